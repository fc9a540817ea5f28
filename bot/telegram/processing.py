"""The order updates are processed in: one chat's updates one after another,
in the order they came; different chats side by side. A slow store write for
one coordinator never holds up the others, and a quick double tap in one chat
never races itself.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import metrics


class Finished:
    """The updates whose processing has ended (the latest thousand): for the
    health check and for tests that wait for an answer."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ids: deque[int] = deque(maxlen=1000)
        self.count = 0
        self.last_at: float | None = None  # time.monotonic()

    def add(self, update_id: int) -> None:
        with self._cond:
            self._ids.append(update_id)
            self.count += 1
            self.last_at = time.monotonic()
            self._cond.notify_all()

    def wait_for(self, update_id: int, timeout: float, times: int = 1) -> bool:
        """Wait until the update has been through processing ``times`` times
        (a repeat delivery counts too, even though it does nothing)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._ids.count(update_id) >= times, timeout)


def chat_key(update: object) -> int | None:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return None


class PerChatOrder(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 32, finished: Finished | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self.finished = finished or Finished()
        self._locks: dict[int | None, tuple[asyncio.Lock, list[int]]] = {}

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # The clock of the bot's own work starts here, before any wait for a
        # free slot: the task runs in a context of its own, so the stamp is
        # this update's alone.
        metrics.RECEIVED.set(metrics.now())
        await super().process_update(update, coroutine)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                await coroutine
        finally:
            users[0] -= 1
            if users[0] == 0:
                self._locks.pop(key, None)
            if isinstance(update, Update):
                self.finished.add(update.update_id)
