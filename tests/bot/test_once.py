"""The ledger behind "each delivery once" (Telegram updates, Slack events)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.once import OnceLedger
from hub.schema import INDEXES
from storage import StoreWriteError
from storage.tinydb_store import TinyDBStore


def test_a_claim_holds_across_a_restart_and_is_forgotten_after_keep(tmp_path: Path) -> None:
    now = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    store = TinyDBStore(tmp_path, INDEXES)
    ledger = OnceLedger(store, "processed_events", timedelta(hours=1), lambda: now[0])
    assert ledger.claim("event:Ev1")
    assert not ledger.claim("event:Ev1")
    store.close()

    store = TinyDBStore(tmp_path, INDEXES)  # restarted
    ledger = OnceLedger(store, "processed_events", timedelta(hours=1), lambda: now[0])
    assert not ledger.claim("event:Ev1")
    now[0] += timedelta(hours=2)
    assert ledger.claim("event:Ev2")  # a claim purges old ones now and then
    assert ledger.purging is not None
    ledger.purging.join(10)
    assert not ledger.seen("event:Ev1")
    assert ledger.seen("event:Ev2")
    store.close()


def test_a_claim_does_not_wait_for_the_purge(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Claims are made on the front ends' event loops: forgetting hours of
    old claims happens beside them, in batches, never in the claim."""
    now = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    store = TinyDBStore(tmp_path, INDEXES)
    ledger = OnceLedger(store, "processed_events", timedelta(hours=1), lambda: now[0])
    for n in range(2500):  # more than two batches
        assert ledger.claim(f"event:Old{n}")
    ledger.purging.join(10)  # type: ignore[union-attr]
    now[0] += timedelta(hours=2)
    purge = ledger.purge
    started = threading.Event()
    release = threading.Event()

    def slow_purge() -> int:
        started.set()
        release.wait(10)
        return purge()

    monkeypatch.setattr(ledger, "purge", slow_purge)
    began = time.monotonic()
    assert ledger.claim("event:New")
    assert time.monotonic() - began < 0.5 and started.wait(5)  # claimed while purging
    assert ledger.seen("event:Old0")
    release.set()
    ledger.purging.join(10)  # type: ignore[union-attr]
    assert not any(ledger.seen(f"event:Old{n}") for n in range(0, 2500, 97))
    assert ledger.seen("event:New")
    store.close()


def test_first_lets_work_go_on_when_the_claim_cannot_be_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The work behind a delivery uses the store too: when the claim cannot
    be recorded, the work runs and meets the same error, which it tells the
    person, rather than the delivery vanishing without a word."""
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    store = TinyDBStore(tmp_path, INDEXES)
    ledger = OnceLedger(store, "processed_events", timedelta(hours=1), lambda: now)
    assert ledger.first("event:Ev1")
    assert not ledger.first("event:Ev1")  # a repeat
    ledger.purging.join(10)  # type: ignore[union-attr]  # the first claim's housekeeping
    store.close()  # nothing can be written any more
    with pytest.raises(StoreWriteError):
        ledger.claim("event:Ev2")
    with caplog.at_level(logging.ERROR, logger="bot.once"):
        assert ledger.first("event:Ev2")
    assert "could not record delivery event:Ev2" in caplog.text
