"""Which Telegram updates were handled: ``update_id`` claims in the store
table ``processed_updates``, kept two days (Telegram itself keeps updates
for 24 hours). See :mod:`bot.once`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.once import OnceLedger
from storage import Store

TABLE = "processed_updates"
KEEP = timedelta(hours=48)


def processed_updates(store: Store, clock: Callable[[], datetime]) -> OnceLedger:
    return OnceLedger(store, TABLE, KEEP, clock)


def update_key(bot_id: int | str, update_id: int) -> str:
    # Update ids count per bot: a new token starts another sequence.
    return f"{bot_id}:{update_id}"
