"""Each Slack delivery is processed once, across restarts.

Slack retries an event it thinks was not received (about at once, then
after one and five minutes, with ``X-Slack-Retry-Num``); a network hiccup can
deliver a button press twice. Before a request reaches a listener its
identity is claimed in the store (table ``processed_events``, kept an hour):
a second delivery finds the claim and is answered 200 with nothing done.

The identity is the ``event_id`` of an event, the user and ``action_ts`` of a
button press, and the ``trigger_id`` of a slash command or a form submitted.
The same middleware runs for HTTP and Socket Mode.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from storage import Store

log = logging.getLogger(__name__)

TABLE = "processed_events"
KEEP = timedelta(hours=1)  # Slack's last retry comes about 6 minutes after the first
PURGE_EVERY = timedelta(minutes=10)


def delivery_key(body: dict[str, Any]) -> str | None:
    """What identifies one delivery of this request, or None if nothing does
    (or if it is an event the bot ignores anyway: edits, its own messages)."""
    event = body.get("event") or {}
    if event.get("type") == "message" and (
        event.get("subtype") not in (None, "file_share") or event.get("bot_id")
    ):
        return None
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    kind = body.get("type")
    if kind == "block_actions":
        user = (body.get("user") or {}).get("id", "")
        stamps = ",".join(str(a.get("action_ts", "")) for a in body.get("actions", []))
        return f"action:{user}:{stamps}" if stamps.strip(",") else None
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


class ProcessedEvents:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self._last_purge: datetime | None = None
        self._purge_lock = threading.Lock()

    def claim(self, key: str) -> bool:
        """True the first time ``key`` is seen; False for a repeat."""
        now = self.clock()
        with self.store.transaction() as tx:
            if tx.get(TABLE, key) is not None:
                return False
            tx.put(TABLE, key, {"seen_at": now.isoformat()})
        self._purge_now_and_then(now)
        return True

    def seen(self, key: str) -> bool:
        return self.store.get(TABLE, key) is not None

    def _purge_now_and_then(self, now: datetime) -> None:
        with self._purge_lock:
            if self._last_purge is not None and now - self._last_purge < PURGE_EVERY:
                return
            self._last_purge = now
        try:
            self.purge()
        except Exception:  # housekeeping must never stop a request
            log.exception("could not forget old Slack deliveries")

    def purge(self) -> int:
        """Forget deliveries older than :data:`KEEP`."""
        cutoff = self.clock() - KEEP
        old = [
            d["_key"]
            for d in self.store.scan(TABLE)
            if datetime.fromisoformat(d["seen_at"]) < cutoff
        ]
        if old:
            with self.store.transaction() as tx:
                for key in old:
                    tx.delete(TABLE, key)
        return len(old)
