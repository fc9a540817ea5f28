"""The ledger behind "each delivery once" (Telegram updates, Slack events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.once import OnceLedger
from hub.schema import INDEXES
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
    assert not ledger.seen("event:Ev1")
    assert ledger.seen("event:Ev2")
    store.close()
