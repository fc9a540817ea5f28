"""The Telegram front end's own process (``python -m bot.telegram.worker FD``),
started by :class:`bot.telegram.process.TelegramProcess`.

It never opens the store. It runs python-telegram-bot (polling, parsing
updates, rendering, sending, flood control) and asks the bot's process, over
the socket pair whose descriptor it was given, for what only that process
can answer (:class:`RemoteCore`). The CPU-heavy half of every Telegram
message thereby runs beside the engine instead of taking turns with it for
one interpreter lock.

The first message on the link is ``("hello", config, command_names)``.
This process then reports ``("note", "state", {...})``: once started
(``running``, or ``refused`` with Telegram's reason), then every
:data:`REPORT_EVERY` seconds with the health check and the latency samples
gathered meanwhile. It stops on the note ``stop`` or on SIGTERM, finishing
the updates in hand. When the bot's process goes away (the link ends) it
leaves at once, leaving unhandled updates unconfirmed for Telegram to
deliver again: a child never outlives its parent.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from bot import metrics
from bot.app import SWITCH_INTERVAL, setup_logging
from bot.config import Config
from bot.link import Link, receive_one
from bot.telegram.core import Menu, Turn
from bot.telegram.frontend import TelegramFrontEnd, TelegramRefused, flood_control
from handlers.replies import Input

log = logging.getLogger(__name__)

REPORT_EVERY = 0.5  # seconds between state reports (health, latency samples)


class RemoteCore:
    """The :class:`bot.telegram.core.Core` interface, asked over the link
    from the front end's own event loop."""

    def __init__(self, link: Link, command_names: list[str]) -> None:
        self.link = link
        self.command_names = command_names
        self._samples: list[float] = []
        self._lock = threading.Lock()

    async def claim(self, key: str) -> bool:
        return bool(await self.link.call("claim", key))

    async def turn(self, chat_id: str, event: Input, claim: str | None = None) -> Turn | None:
        turn: Turn | None = await self.link.call("turn", chat_id, event, claim)
        return turn

    async def default_menu(self) -> Menu:
        menu: Menu = await self.link.call("default_menu")
        return menu

    def observe(self, started: float) -> None:
        elapsed = metrics.now() - started
        with self._lock:
            self._samples.append(elapsed)

    def take_samples(self) -> list[float]:
        with self._lock:
            taken, self._samples = self._samples, []
        return taken


class Worker:
    def __init__(self, sock: socket.socket, config: Config, command_names: list[str]) -> None:
        self.sock = sock
        self.link = Link(self.on_call, self.on_note, self.on_lost)
        self.core = RemoteCore(self.link, command_names)
        self.frontend = TelegramFrontEnd(
            config, self.core, flood=flood_control(config), around_loop=self._linked
        )
        self.stopping = threading.Event()

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

    def on_call(self, method: str, args: tuple[Any, ...]) -> Awaitable[None]:
        if method != "push":
            raise ValueError(f"the Telegram process has no {method!r}")
        chat_id, replies = args
        return self.frontend.push_here(chat_id, replies)

    def on_note(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind == "stop":
            self.stopping.set()
        elif kind == "update":
            self.frontend.accept(args[0])  # not running: the parent answered 503 already

    def on_lost(self) -> None:
        if self.stopping.is_set():
            return
        # The bot's process has gone without asking us to stop (killed).
        # Leave at once: stopping politely would confirm to Telegram the
        # updates fetched but not yet handled, and they would be lost;
        # unconfirmed, Telegram delivers them again to the next bot.
        log.error("the bot's process has gone; the Telegram process leaves too")
        os._exit(3)

    def report(self, **extra: Any) -> None:
        state = {"healthy": self.frontend.healthy(), "samples": self.core.take_samples(), **extra}
        self.link.note_from_thread("state", state)

    def run(self) -> int:
        try:
            self.frontend.start()
        except TelegramRefused:
            return 2  # the parent has been told why
        self.report(running=True)
        while not self.stopping.wait(REPORT_EVERY):
            try:
                if not self.frontend.alive:  # it failed, and said why in the log
                    raise ConnectionError("the Telegram front end has stopped")
                self.report()
            except ConnectionError:
                return 1  # the parent starts a new process
        self.frontend.stop()  # finishes the updates in hand, still asking over the link
        return 0


def main(argv: list[str]) -> int:
    # Ctrl-C reaches the whole process group: the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[1]))
    hello = receive_one(sock)
    if hello is None or hello[0] != "hello":
        return 1
    _, config, command_names = hello
    setup_logging(config.log_level)
    sys.setswitchinterval(SWITCH_INTERVAL)
    worker = Worker(sock, config, command_names)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    return worker.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
