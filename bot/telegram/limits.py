"""Flood control for the Bot API: Telegram's limits, kept per chat.

Telegram allows about 30 messages a second overall, about one a second in a
private chat (short bursts tolerated) and 20 a minute in a group.
python-telegram-bot's ``AIORateLimiter`` has the overall and group limits but
nothing per private chat, and a ``RetryAfter`` there pauses every request of
the bot. Here each chat has its own bucket, and a 429 answer pauses only the
chat it came for: the request is retried after ``retry_after`` (up to
``max_retries`` times), so the message still arrives.

Requests without a ``chat_id`` (answerCallbackQuery, setMyCommands, getFile)
are not throttled, as in python-telegram-bot's own limiter. Edits of a
message already sent (a pressed message losing its buttons, a tick box
ticked) count towards the overall limit but not the chat's: the chat's limit
is about new messages, and counting the edit would make every button press
take a second longer than a typed answer. A 429 for an edit still pauses the
chat.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

Result = bool | dict[str, Any] | list[dict[str, Any]]
Rate = tuple[float, float]  # (requests, per seconds)
EDITS = "editMessage"  # editMessageText, editMessageReplyMarkup ...


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # int today, timedelta in a later major version
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class FloodControl(BaseRateLimiter[int]):
    """``per_chat=(3, 3.0)``: one message a second on average, with bursts of
    up to three (an error and the question asked again, say)."""

    def __init__(
        self,
        *,
        overall: Rate = (30, 1.0),
        per_chat: Rate = (3, 3.0),
        per_group: Rate = (20, 60.0),
        max_retries: int = 3,
        longest_wait: float = 120.0,
    ) -> None:
        self._overall = AsyncLimiter(*overall)
        self._per_chat = per_chat
        self._per_group = per_group
        self._chats: dict[str, AsyncLimiter] = {}
        self._paused_until: dict[str, float] = {}
        self.max_retries = max_retries
        self.longest_wait = longest_wait

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def _limiter(self, chat: str) -> AsyncLimiter:
        limiter = self._chats.get(chat)
        if limiter is None:
            if len(self._chats) > 1024:  # forget idle chats
                for key, old in list(self._chats.items()):
                    if old.has_capacity(old.max_rate):
                        del self._chats[key]
                        self._paused_until.pop(key, None)
            group = chat.startswith("-") or chat.startswith("@")
            limiter = AsyncLimiter(*(self._per_group if group else self._per_chat))
            self._chats[chat] = limiter
        return limiter

    async def _wait_out_pause(self, chat: str) -> None:
        loop = asyncio.get_running_loop()
        while (delay := self._paused_until.get(chat, 0.0) - loop.time()) > 0:
            await asyncio.sleep(delay)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        chat_id = data.get("chat_id")
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        chat = None if chat_id is None else str(chat_id)
        for attempt in range(retries + 1):
            try:
                if chat is None:
                    return await callback(*args, **kwargs)
                await self._wait_out_pause(chat)
                if endpoint.startswith(EDITS):
                    async with self._overall:
                        return await callback(*args, **kwargs)
                async with self._limiter(chat), self._overall:
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc) + 0.1
                if attempt >= retries or wait > self.longest_wait:
                    log.warning(
                        "Telegram asked to wait %.0f s before %s; giving up after %d tries",
                        wait,
                        endpoint,
                        attempt + 1,
                    )
                    raise
                log.info("Telegram asked to wait %.1f s before %s; waiting", wait, endpoint)
                if chat is not None:
                    loop = asyncio.get_running_loop()
                    until = loop.time() + wait
                    self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), until)
                else:
                    await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover
