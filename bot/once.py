"""Each platform delivery is handled once, across restarts.

Platforms deliver again what they think was not received: Telegram an update
whose receipt was not confirmed (a restart in the middle of a ``getUpdates``
batch, a lost webhook answer), Slack an event it retries (at once, after one
and after five minutes) or a button pressed twice. Before a delivery is
handled its identity is claimed in the store; a second delivery finds the
claim and is dropped.

Claiming before handling means a crash in the middle of a delivery loses it
rather than running it twice; the person simply sends it again. Old claims
are forgotten now and then, by the requests themselves.

A claim is written to the journal in order but not waited for
(``durable=False``): a process killed after it still has it (the line is in
the operating system's hands). Only an OS crash can lose it, and then it
loses only claims whose deliveries changed nothing durable either: a
confirmed change is a later line of the same journal, and its own wait for
the disk takes every earlier line with it. Waiting here would cost one disk
flush per message for nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from storage import Store, StoreError

log = logging.getLogger(__name__)
PURGE_EVERY = timedelta(minutes=10)
PURGE_BATCH = 1000  # claims forgotten per transaction
IGNORED = "delivery %s was handled before; ignored"  # logged (INFO) for each repeat


class OnceLedger:
    def __init__(
        self, store: Store, table: str, keep: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.table = table
        self.keep = keep
        self.clock = clock
        self._last_purge: datetime | None = None
        self.purging: threading.Thread | None = None  # the latest purge started
        self._purge_lock = threading.Lock()

    def claim(self, key: str) -> bool:
        """True the first time ``key`` is seen; False for a repeat."""
        now = self.clock()
        with self.store.transaction(durable=False) as tx:
            if tx.get(self.table, key) is not None:
                return False
            tx.put(self.table, key, {"seen_at": now.isoformat()})
        self._purge_now_and_then(now)
        return True

    def first(self, key: str) -> bool:
        """:meth:`claim`, for work about to use the store anyway: a claim that
        could not be recorded counts as the first (logged), and the work
        meets the store's error itself and tells the person so, instead of
        the delivery vanishing without a word."""
        try:
            fresh = self.claim(key)
        except StoreError as exc:
            log.error("could not record delivery %s in %s: %s", key, self.table, exc)
            return True
        if not fresh:
            log.info(IGNORED, key)
        return fresh

    def seen(self, key: str) -> bool:
        return self.store.get(self.table, key) is not None

    def _purge_now_and_then(self, now: datetime) -> None:
        """Every so often, forget old claims in a thread of its own: claims
        are made on the front ends' event loops, which must not wait for a
        scan of a table that holds hours of deliveries."""
        with self._purge_lock:
            if self._last_purge is not None and now - self._last_purge < PURGE_EVERY:
                return
            self._last_purge = now
        self.purging = threading.Thread(target=self._purge_quietly, name=f"purge-{self.table}")
        self.purging.daemon = True
        self.purging.start()

    def _purge_quietly(self) -> None:
        try:
            self.purge()
        except Exception:  # housekeeping must never stop a delivery
            log.exception("could not forget old deliveries in %s", self.table)

    def purge(self) -> int:
        """Forget claims older than ``keep``."""
        cutoff = self.clock() - self.keep
        old = [
            d["_key"]
            for d in self.store.scan(self.table)
            if datetime.fromisoformat(d["seen_at"]) < cutoff
        ]
        for start in range(0, len(old), PURGE_BATCH):  # short holds of the store lock
            with self.store.transaction(durable=False) as tx:
                for key in old[start : start + PURGE_BATCH]:
                    tx.delete(self.table, key)
        return len(old)
