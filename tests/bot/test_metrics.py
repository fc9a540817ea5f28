"""What ``/metrics`` tells about the bot's own work, and the collector pauses
that a long-running bot keeps short (:func:`bot.app.settle`)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest

from bot import metrics
from bot.app import _refreeze


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    metrics.reset()
    yield
    metrics.reset()


def test_percentiles_per_platform_and_per_window() -> None:
    for ms in range(1, 101):
        metrics.record(ms / 1000, "slack")
    metrics.record(0.5, "telegram")
    found = metrics.summary()
    assert found["messages"] == 101
    assert found["by_platform"]["slack"] == {  # type: ignore[index]
        "messages": 100,
        "p50_ms": 51.0,
        "p99_ms": 100.0,
        "max_ms": 100.0,
    }
    windows = found["by_window"]
    assert isinstance(windows, list) and len(windows) == 1  # all within 15 s
    assert windows[0]["from_s"] == 0 and windows[0]["messages"] == 101


def test_windows_split_a_run_by_when_the_work_was_recorded() -> None:
    metrics.record(0.010, "slack")
    time.sleep(0.06)
    metrics.record(0.200, "slack")
    windows = metrics.summary(window=0.05)["by_window"]
    assert [(w["messages"], w["p99_ms"]) for w in windows] == [(1, 10.0), (1, 200.0)]  # type: ignore[index,union-attr]


def test_full_collections_are_counted() -> None:
    before = metrics.summary()["gc"]
    gc.collect()
    after = metrics.summary()["gc"]
    assert after["full_collections"] == before["full_collections"] + 1  # type: ignore[index]
    assert after["total_ms"] > before["total_ms"]  # type: ignore[index]
    # Both figures are rounded to microseconds: allow for that.
    grown = after["total_ms"] - before["total_ms"]  # type: ignore[index,operator]
    assert after["longest_ms"] >= grown - 0.002  # type: ignore[index,operator]


def test_a_full_collection_freezes_what_survived_it() -> None:
    was_enabled = gc.isenabled()
    gc.disable()  # no automatic collection in the middle: only the ones below
    gc.callbacks.append(_refreeze)
    try:
        frozen = gc.get_freeze_count()
        survivors = [{"n": n} for n in range(1000)]
        gc.collect(1)  # a young collection leaves them in sight
        assert gc.get_freeze_count() == frozen
        gc.collect()
        assert gc.get_freeze_count() >= frozen + len(survivors)
    finally:
        gc.callbacks.remove(_refreeze)
        gc.unfreeze()
        if was_enabled:
            gc.enable()
