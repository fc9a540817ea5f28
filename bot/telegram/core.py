"""What the Telegram front end asks of the rest of the bot, and nothing more.

Three questions: has this update been handled before (:meth:`Core.claim`),
what are the replies to this input in this chat and the chat's command menu
after it (:meth:`Core.turn`, which claims the update too, so that a message
costs one question), and what is an unlinked chat's menu
(:meth:`Core.default_menu`). Plus one report: how long the bot's own work
on an update took (:meth:`Core.observe`).

Keeping the interface this narrow is what lets the front end run either in
the process that holds the store (:class:`LocalCore`) or in a process of its
own that asks over a socket (:class:`bot.telegram.worker.RemoteCore`), so
that python-telegram-bot's work and the engine's run on two CPU cores.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from typing import Protocol

from bot import metrics
from bot.app import App
from bot.once import OnceLedger
from bot.telegram.updates import processed_updates
from handlers.conversation import Conversation
from handlers.engine import Engine
from handlers.replies import Input, Person, Reply, Upload
from hub import Account, Hub

NAME = "telegram"
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
CANCEL = ("cancel", "stop what you are doing; nothing is changed")

Menu = tuple[tuple[str, str], ...]
Turn = tuple[list[Reply], Menu]


def command_names(conversations: Iterable[Conversation]) -> list[str]:
    """Every command a chat may send (Telegram's commands are lower-case
    words of at most 32 letters, digits and underscores)."""
    names = {"start", "cancel"}
    for conversation in conversations:
        for name in (conversation.name, *conversation.aliases):
            if COMMAND_NAME.fullmatch(name):
                names.add(name)
    return sorted(names)


class Core(Protocol):
    command_names: list[str]

    async def claim(self, key: str) -> bool:
        """True the first time an update is seen; False for a repeat. A
        claim the store could not record counts as the first: the handler
        meets the store's error and says so."""

    async def turn(self, chat_id: str, event: Input, claim: str | None = None) -> Turn | None:
        """The replies to one input, and the chat's menu after it. With
        ``claim``, the update's key is claimed first, and a repeat gives
        None (nothing done)."""

    async def default_menu(self) -> Menu:
        """The menu of a chat not linked to an account."""

    def observe(self, started: float) -> None:
        """The bot's own work on an update ended now (started: metrics.now())."""


class LocalCore:
    """The hub and the engine in this very process.

    A step is well under a millisecond of the store's in-memory work (a
    confirmed change adds one fdatasync), so it runs on the caller's event
    loop: handing it to a worker thread and back cost two GIL hand-overs
    that, with a hundred chats busy, made up most of each update's latency.
    Only an upload (a CSV of up to 1 MB to check) goes to a thread."""

    def __init__(self, hub: Hub, engine: Engine, processed: OnceLedger) -> None:
        self.hub = hub
        self.engine = engine
        self.processed = processed
        self.command_names = command_names(engine.conversations.values())

    @classmethod
    def of(cls, app: App, engine: Engine) -> LocalCore:
        """The core of a running bot: its hub, and its store's claims."""
        return cls(app.hub, engine, processed_updates(app.store, app.hub.now))

    # The synchronous steps, also what a remote front end's requests run.
    def claim_now(self, key: str) -> bool:
        return self.processed.first(key)

    def turn_now(self, chat_id: str, event: Input, claim: str | None = None) -> Turn | None:
        if claim is not None and not self.processed.first(claim):
            return None
        account = self.hub.linked_account(NAME, chat_id)
        person = Person(NAME, chat_id, account.account_id if account else None)
        replies = self.engine.handle(person, event)
        return replies, self.menu_for(self.hub.linked_account(NAME, chat_id))

    def menu_for(self, account: Account | None) -> Menu:
        commands = [
            (name, summary)
            for name, summary in self.engine.commands_for(account, NAME)
            if COMMAND_NAME.fullmatch(name)
        ]
        if account is not None:
            commands.append(CANCEL)
        return tuple(commands)

    # The Core interface, for a front end in this process.
    async def claim(self, key: str) -> bool:
        return self.claim_now(key)

    async def turn(self, chat_id: str, event: Input, claim: str | None = None) -> Turn | None:
        if isinstance(event, Upload):  # a whole file to read and check: not on the loop
            return await asyncio.to_thread(self.turn_now, chat_id, event, claim)
        return self.turn_now(chat_id, event, claim)

    async def default_menu(self) -> Menu:
        return await asyncio.to_thread(self.menu_for, None)

    def observe(self, started: float) -> None:
        metrics.observe(started, NAME)
