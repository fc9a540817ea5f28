"""The Slack front end's own process (``python -m bot.slack.worker FD``),
started by :class:`bot.slack.process.SlackProcess` (how the two sides start,
report, stop and leave: :mod:`bot.child`).

It never opens the store. It runs Bolt (signature checks, parsing,
middleware, listeners), the Web API client and Socket Mode if configured,
and asks the bot's process, over the socket pair whose descriptor it was
given, for what only that process can answer (:class:`RemoteSlackCore`).
The hello carries the configuration and the words that open the add form.

The link lives on an event loop in a thread of its own. An HTTP delivery is
answered right on that loop: Bolt checks the signature, acknowledges and
hands the work to the front end's executor, without asking the bot's
process anything (the work claims the delivery with its turn), well under a
millisecond. What does ask the bot's process over the same link (the add
form, checked before Slack gets its answer; a digest to post, a person to
look up) runs in :data:`INTAKE_THREADS` threads, never on that loop, which
must stay free to carry the answer.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.child import ChildWorker, Samples, serve
from bot.config import Config, ConfigError
from bot.link import Link, new_event_loop
from bot.slack.core import NAME, FormEntry, Home, Turn
from bot.slack.frontend import SlackFrontEnd
from bot.slack.http import Delivery, dispatch
from bot.slack.identity import Who
from handlers.replies import Input, Person, Reply
from hub import Account, Action, Actor

CALL_WAIT = 120.0  # a turn checking a large upload; the link fails at once if the bot goes
INTAKE_THREADS = 4


class RemoteSlackCore:
    """The :class:`bot.slack.core.SlackCore` interface, asked over the link
    from Slack's threads."""

    def __init__(
        self, link: Link, add_words: frozenset[str], remind_after_days: int, samples: Samples
    ) -> None:
        self.link = link
        self.add_words = add_words
        self.remind_after_days = remind_after_days
        self.observe = samples.observe

    def _ask(self, method: str, *args: Any) -> Any:
        return self.link.call_from_thread(method, *args, timeout=CALL_WAIT)

    def claim(self, key: str) -> bool:
        return bool(self._ask("claim", key))

    def who(self, user_id: str, email: str | None) -> Who:
        who: Who = self._ask("who", user_id, email)
        return who

    def handle(self, person: Person, said: Input) -> list[Reply]:
        replies: list[Reply] = self._ask("handle", person, said)
        return replies

    def converse(
        self, user_id: str, email: str | None, said: Input, once: str | None = None
    ) -> Turn | None:
        turn: Turn | None = self._ask("converse", user_id, email, said, once)
        return turn

    def press(
        self,
        user_id: str,
        email: str | None,
        token: str,
        label: str,
        tick_changes: list[tuple[str, str]],
        once: str | None = None,
    ) -> Turn | None:
        turn: Turn | None = self._ask("press", user_id, email, token, label, tick_changes, once)
        return turn

    def may(self, actor: Actor, action: Action) -> str | None:
        why: str | None = self._ask("may", actor, action)
        return why

    def add_from_form(self, actor: Actor, entry: FormEntry) -> dict[str, str] | Reply:
        done: dict[str, str] | Reply = self._ask("add_from_form", actor, entry)
        return done

    def home(self, account: Account) -> Home:
        home: Home = self._ask("home", account)
        return home


class Worker(ChildWorker):
    name = NAME
    refused = ConfigError

    def __init__(self, sock: socket.socket, config: Config, add_words: frozenset[str]) -> None:
        super().__init__()
        self.core = RemoteSlackCore(self.link, add_words, config.remind_after_days, self.samples)
        self.frontend = SlackFrontEnd(config, self.core)
        self.intake = ThreadPoolExecutor(INTAKE_THREADS, thread_name_prefix="slack-intake")
        self.loop = new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="slack-link", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.link.open(sock), self.loop).result()

    def begin(self) -> None:
        try:
            self.frontend.start()
        except ConfigError as exc:  # Slack refused the token: tell the bot's process why
            asyncio.run_coroutine_threadsafe(self._tell_refused(str(exc)), self.loop).result(5)
            raise

    async def _tell_refused(self, why: str) -> None:
        self.link.note("state", {"refused": why})

    def end(self) -> None:
        self.frontend.stop()  # lets replies in flight reach Slack, asking over the link
        self.intake.shutdown(wait=True)

    def healthy(self) -> bool:
        return self.frontend.healthy()

    def on_call(self, method: str, args: tuple[Any, ...]) -> Awaitable[Any]:
        if method == "http":
            delivery: Delivery = args[0]
            if delivery.is_form:
                return self._off_loop(dispatch, self.frontend.bolt, delivery)
            return dispatch(self.frontend.bolt, delivery)
        if method == "push":
            return self._off_loop(self.frontend.push, *args)
        if method == "find_chat":
            return self._off_loop(self.frontend.find_chat, *args)
        return super().on_call(method, args)  # type: ignore[no-any-return]

    def _off_loop(self, work: Any, *args: Any) -> Awaitable[Any]:
        return self.loop.run_in_executor(self.intake, work, *args)


if __name__ == "__main__":
    sys.exit(serve(sys.argv, Worker))
