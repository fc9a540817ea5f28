"""Each Telegram update is processed once, across restarts.

Telegram delivers an update again when its receipt was not confirmed: after a
restart in the middle of a ``getUpdates`` batch, or when a webhook answer was
lost. Before an update is handled its ``update_id`` is claimed in the store
(table ``processed_updates``, one small document per update, kept two days:
Telegram itself keeps updates for 24 hours); a second delivery finds the
claim and is dropped.

Claiming before handling means a crash in the middle of an update loses that
update rather than running it twice; the person simply sends it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from storage import Store

log = logging.getLogger(__name__)

TABLE = "processed_updates"
KEEP = timedelta(hours=48)


class ProcessedUpdates:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    @staticmethod
    def key(bot_id: int | str, update_id: int) -> str:
        # Update ids count per bot: a new token starts another sequence.
        return f"{bot_id}:{update_id}"

    def claim(self, bot_id: int | str, update_id: int) -> bool:
        """True the first time an update is seen; False for a repeat."""
        key = self.key(bot_id, update_id)
        with self.store.transaction() as tx:
            if tx.get(TABLE, key) is not None:
                return False
            tx.put(TABLE, key, {"update_id": update_id, "seen_at": self.clock().isoformat()})
        return True

    def seen(self, bot_id: int | str, update_id: int) -> bool:
        return self.store.get(TABLE, self.key(bot_id, update_id)) is not None

    def purge(self) -> int:
        """Forget updates older than :data:`KEEP`."""
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
