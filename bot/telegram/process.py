"""The Telegram front end in a process of its own (:mod:`bot.telegram.worker`),
as the bot's process sees it: a :class:`bot.frontend.FrontEnd` like any other
(:class:`bot.child.ChildProcess` says how the child is started, restarted
and stopped).

The child asks for claims and turns. A claim is answered on the link's loop;
a turn runs in one of the turn threads (the child sends a chat's next update
only once its turn is answered, so each chat's updates stay in order).
Webhook mode: the endpoint stays in the bot's process, checks the secret
(made here and given to the child) and hands accepted updates over.
``TELEGRAM_OWN_PROCESS=false`` keeps the front end in the bot's process.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from bot.app import App
from bot.child import START_WAIT, ChildProcess
from bot.telegram.core import NAME, LocalCore
from bot.telegram.frontend import PUSH_WAIT, TelegramRefused
from bot.telegram.webhook import PATH, WebhookEndpoint
from handlers.engine import Engine
from handlers.replies import Reply


class TelegramProcess(ChildProcess):
    name = NAME
    module = "bot.telegram.worker"
    refused = TelegramRefused

    def __init__(self, app: App, engine: Engine, *, start_wait: float = START_WAIT) -> None:
        super().__init__(start_wait=start_wait)
        config = app.config
        self.core = LocalCore.of(app, engine)
        self.webhook_url = config.telegram_webhook_url
        secret = config.telegram_webhook_secret or secrets.token_urlsafe(32)
        self.config = replace(config, telegram_webhook_secret=secret)
        self.endpoint = WebhookEndpoint(secret, self._forward)

    @property
    def mode(self) -> str:
        how = "webhook" if self.webhook_url else "long polling"
        return f"{how}, in a process of its own"

    def hello(self) -> tuple[Any, ...]:
        return (self.config, self.core.command_names)

    def answer(self, method: str, args: tuple[Any, ...]) -> Any:
        """A claim is answered right here; a turn in a turn thread, so one
        turn waiting for the disk (a confirmed change), for the GIL, or
        checking an uploaded CSV does not hold up every other chat."""
        if method == "claim":
            return self.core.claim_now(*args)
        if method == "turn":
            return self.in_thread(self.core.turn_now, *args)
        if method == "default_menu":
            return self.core.menu_for(None)
        raise ValueError(f"the bot's process has no {method!r}")

    # ------------------------------------------------------------- webhook
    def http_mounts(self) -> dict[str, Any]:
        return {PATH: self.endpoint} if self.webhook_url else {}

    async def _forward(self, data: dict[str, Any]) -> bool:
        """The endpoint checked the secret; the child queues the update.
        False (503, Telegram delivers it again) while the child is away."""
        try:
            self.live_link().note_from_thread("update", data)
        except ConnectionError:
            return False
        return True

    # -------------------------------------------------------- unprompted
    def push(self, chat_id: str, replies: list[Reply]) -> None:
        """Send a digest through the child; raises if it is away or fails."""
        self.call_child("push", chat_id, replies, timeout=PUSH_WAIT + 5)

    def find_chat(self, email: str) -> str | None:
        return None  # Telegram cannot look people up; they link their chat themselves
