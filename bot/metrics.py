"""How long the bot's own work takes per message, from receiving a platform
event to making its reply call (what `make load` reports as p50/p99).

Front ends call :func:`observe` with the time the event arrived; the web
server publishes :func:`summary` at ``/metrics``. Waiting for a platform's
rate limit or network is not the bot's work and is not counted.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import deque
from contextvars import ContextVar

# (seconds taken, platform, when it was recorded)
_samples: deque[tuple[float, str, float]] = deque(maxlen=200_000)
_count = 0
_lock = threading.Lock()
WINDOW = 15.0  # seconds per entry of summary()'s by_window


# When the platform event being handled reached the bot, for front ends that
# only see it a few layers later (set where it arrives, read where the work
# on it starts).
RECEIVED: ContextVar[float | None] = ContextVar("received", default=None)


class _Pauses:
    """The garbage collector's full collections, which stop every thread:
    how many, and the longest (a cause of p99 worth ruling in or out)."""

    def __init__(self) -> None:
        self.count = 0
        self.longest = 0.0
        self.total = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
            return
        took = time.perf_counter() - self._began
        self.count += 1
        self.total += took
        self.longest = max(self.longest, took)

    def summary(self) -> dict[str, float]:
        return {
            "full_collections": self.count,
            "longest_ms": round(self.longest * 1000, 3),
            "total_ms": round(self.total * 1000, 3),
        }


_pauses = _Pauses()
gc.callbacks.append(_pauses)


def now() -> float:
    return time.perf_counter()


def received() -> float:
    """The arrival time of the event in hand, or now if none was noted."""
    stamp = RECEIVED.get()
    return now() if stamp is None else stamp


def observe(started: float, platform: str) -> None:
    record(time.perf_counter() - started, platform)


def record(elapsed: float, platform: str) -> None:
    """A duration measured elsewhere (a front end in a process of its own)."""
    global _count
    with _lock:
        _samples.append((elapsed, platform, time.monotonic()))
        _count += 1


def _percentiles(ordered: list[float]) -> dict[str, float]:
    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 3)

    return {"p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": round(ordered[-1] * 1000, 3)}


def summary(window: float = WINDOW) -> dict[str, object]:
    """Counts and percentiles overall, per platform under ``by_platform``, and
    per ``window`` seconds under ``by_window`` (oldest first), so a figure that
    drifts over a run shows where it went."""
    with _lock:
        samples = list(_samples)
        count = _count
    if not samples:
        return {"messages": 0, "gc": _pauses.summary()}
    platforms: dict[str, list[float]] = {}
    windows: dict[int, list[float]] = {}
    first = samples[0][2]
    for elapsed, platform, at in samples:
        platforms.setdefault(platform, []).append(elapsed)
        windows.setdefault(int((at - first) // window), []).append(elapsed)
    return {
        "messages": count,
        **_percentiles(sorted(elapsed for elapsed, _, _ in samples)),
        "by_platform": {
            name: {"messages": len(times), **_percentiles(sorted(times))}
            for name, times in sorted(platforms.items())
        },
        "gc": _pauses.summary(),
        "by_window": [
            {"from_s": index * window, "messages": len(times), **_percentiles(sorted(times))}
            for index, times in sorted(windows.items())
        ],
    }


def reset() -> None:
    global _count
    with _lock:
        _samples.clear()
        _count = 0


async def asgi(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
    """``GET /metrics``: the summary as JSON (counts and times, nothing else)."""
    import json

    body = json.dumps(summary()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,  # type: ignore[operator]
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})  # type: ignore[operator]
