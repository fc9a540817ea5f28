"""Each Slack delivery is processed once, across restarts.

Slack retries an event it thinks was not received (about at once, then
after one and five minutes, with ``X-Slack-Retry-Num``); a network hiccup can
deliver a button press twice. Each delivery is acknowledged at once; its
work then claims the delivery's identity in the store (table
``processed_events``, kept an hour) before doing anything: a second
delivery finds the claim and nothing is done.

The identity is the ``event_id`` of an event, the user and ``action_ts`` of a
button press, and the ``trigger_id`` of a slash command or a form submitted.
The same middleware runs for HTTP and Socket Mode.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.once import OnceLedger
from storage import Store

TABLE = "processed_events"
KEEP = timedelta(hours=1)  # Slack's last retry comes about 6 minutes after the first


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


def processed_events(store: Store, clock: Callable[[], datetime]) -> OnceLedger:
    return OnceLedger(store, TABLE, KEEP, clock)
