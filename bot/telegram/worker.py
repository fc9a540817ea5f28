"""The Telegram front end's own process (``python -m bot.telegram.worker FD``),
started by :class:`bot.telegram.process.TelegramProcess` (how the two sides
start, report, stop and leave: :mod:`bot.child`).

It never opens the store. It runs python-telegram-bot (polling, parsing
updates, rendering, sending, flood control) and asks the bot's process, over
the socket pair whose descriptor it was given, for what only that process
can answer (:class:`RemoteCore`). The hello carries the configuration and
the command names. When the bot's process goes away it leaves at once,
leaving unhandled updates unconfirmed for Telegram to deliver again.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from bot.child import ChildWorker, Samples, serve
from bot.config import Config
from bot.link import Link
from bot.telegram.core import NAME, Menu, Turn
from bot.telegram.frontend import TelegramFrontEnd, TelegramRefused, flood_control
from handlers.replies import Input


class RemoteCore:
    """The :class:`bot.telegram.core.Core` interface, asked over the link
    from the front end's own event loop."""

    def __init__(self, link: Link, command_names: list[str], samples: Samples) -> None:
        self.link = link
        self.command_names = command_names
        self.observe = samples.observe

    async def claim(self, key: str) -> bool:
        return bool(await self.link.call("claim", key))

    async def turn(self, chat_id: str, event: Input, claim: str | None = None) -> Turn | None:
        turn: Turn | None = await self.link.call("turn", chat_id, event, claim)
        return turn

    async def default_menu(self) -> Menu:
        menu: Menu = await self.link.call("default_menu")
        return menu


class Worker(ChildWorker):
    name = NAME
    refused = TelegramRefused

    def __init__(self, sock: socket.socket, config: Config, command_names: list[str]) -> None:
        super().__init__()
        self.sock = sock
        self.core = RemoteCore(self.link, command_names, self.samples)
        self.frontend = TelegramFrontEnd(
            config, self.core, flood=flood_control(config), around_loop=self._linked
        )

    @asynccontextmanager
    async def _linked(self) -> AsyncIterator[None]:
        """The link lives on the front end's loop, from its first moment to
        its last: Telegram's refusal is told on it before the loop ends."""
        await self.link.open(self.sock)
        try:
            yield
        finally:
            if self.frontend.fatal is not None and self.link.is_open:
                self.link.note("state", {"refused": str(self.frontend.fatal)})

    def begin(self) -> None:
        self.frontend.start()

    def end(self) -> None:
        self.frontend.stop()

    def alive(self) -> bool:
        return self.frontend.alive

    def healthy(self) -> bool:
        return self.frontend.healthy()

    def on_call(self, method: str, args: tuple[Any, ...]) -> Awaitable[None]:
        if method != "push":
            return super().on_call(method, args)  # type: ignore[no-any-return]
        chat_id, replies = args
        return self.frontend.push_here(chat_id, replies)

    def note(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind == "update":
            self.frontend.accept(args[0])  # not running: the parent answered 503 already


if __name__ == "__main__":
    sys.exit(serve(sys.argv, Worker))
