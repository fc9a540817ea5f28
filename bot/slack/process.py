"""The Slack front end in a process of its own (:mod:`bot.slack.worker`), as
the bot's process sees it: a :class:`bot.frontend.FrontEnd` like any other
(:class:`bot.child.ChildProcess` says how the child is started, restarted
and stopped).

In HTTP mode ``/slack/events`` stays on the bot's web server: each request
is read here and passed to the child, whose Bolt app checks the signature
and answers it; while the child is away (starting again) Slack gets 503
and delivers the event again. The child asks this process what only the
store can answer (:class:`bot.slack.core.LocalSlackCore`): a claim is
answered on the link's loop, everything else in a turn thread, while the
child's own threads keep each person's replies in order.
``SLACK_OWN_PROCESS=false`` keeps the front end in the bot's process.
"""

from __future__ import annotations

from typing import Any

from bot.app import App
from bot.child import START_WAIT, ChildProcess
from bot.config import ConfigError
from bot.link import LinkClosed
from bot.slack.core import CALLS, NAME, LocalSlackCore
from bot.slack.frontend import EVENTS_PATH, describe_mode, socket_mode
from bot.slack.http import Answer, Delivery, SlackEvents
from handlers.engine import Engine
from handlers.replies import Reply

PUSH_WAIT = 60.0  # the client's own retries of a troubled Slack take about 15 s
FIND_WAIT = 30.0
# Answered on the link's loop: a few dictionary reads, or a write not waited
# for (a claim; a person's first contact is remembered, with a flush).
QUICK = ("claim", "who", "may")
AWAY = Answer(503, "The bot is restarting; try again shortly.", {})


class SlackProcess(ChildProcess):
    name = NAME
    module = "bot.slack.worker"
    refused = ConfigError
    # Slack's child asks from ten workers at once (Telegram's from one loop
    # that waits per chat); two threads here queued its turns behind each
    # other (make load: Slack p50 35 ms, 25 ms with four).
    turn_threads = 4

    def __init__(self, app: App, engine: Engine, *, start_wait: float = START_WAIT) -> None:
        super().__init__(start_wait=start_wait)
        self.config = app.config
        self.socket_mode = socket_mode(self.config)  # a missing setting is told now
        self.core = LocalSlackCore.of(app, engine)
        self.events = SlackEvents(self._forward)

    @property
    def mode(self) -> str:
        return f"{describe_mode(self.config)}, in a process of its own"

    def hello(self) -> tuple[Any, ...]:
        return (self.config, self.core.add_words)

    def answer(self, method: str, args: tuple[Any, ...]) -> Any:
        if method in QUICK:
            return getattr(self.core, method)(*args)
        if method in CALLS:
            return self.in_thread(getattr(self.core, method), *args)
        raise ValueError(f"the bot's process has no {method!r}")

    # ---------------------------------------------------------- HTTP mode
    def http_mounts(self) -> dict[str, Any]:
        return {} if self.socket_mode else {EVENTS_PATH: self.events}

    async def _forward(self, delivery: Delivery) -> Answer:
        try:
            answer: Answer = await self.call_child_here("http", delivery)
        except LinkClosed:
            return AWAY
        return answer

    # -------------------------------------------------------- unprompted
    def push(self, chat_id: str, replies: list[Reply]) -> None:
        """Post a digest through the child; raises if it is away or fails."""
        self.call_child("push", chat_id, replies, timeout=PUSH_WAIT)

    def find_chat(self, email: str) -> str | None:
        found: str | None = self.call_child("find_chat", email, timeout=FIND_WAIT)
        return found
