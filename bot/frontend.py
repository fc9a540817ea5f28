"""What the running process expects of a chat front end (Telegram, Slack).

A front end is a thin adapter: it turns platform events into neutral inputs
for the :class:`~handlers.engine.Engine` and renders its replies. The process
(``hubbot run``, ``hubbot telegram``, ``hubbot slack``) starts it beside the
web server and the scheduler, so it runs in its own thread or event loop.
"""

from __future__ import annotations

from typing import Any, Protocol

from handlers.replies import Reply


class FrontEnd(Protocol):
    name: str  # "telegram", "slack": also Person.frontend and the chat_links platform

    def start(self) -> None:
        """Begin receiving events; return at once (work goes on in a thread)."""

    def stop(self) -> None:
        """Stop receiving, finish what is in flight, release connections."""

    def healthy(self) -> bool:
        """Connected and receiving (for /healthz)."""

    def http_mounts(self) -> dict[str, Any]:
        """ASGI apps to mount on the bot's HTTP server, by path
        (``/slack/events``, ``/telegram/webhook``); empty when not needed."""

    def push(self, chat_id: str, replies: list[Reply]) -> None:
        """Send replies to a chat unprompted (reminder digests). Blocks until
        the platform accepted them; raises on failure so the caller can
        record it and retry later. Works with or without :meth:`start`, so a
        one-off ``hubbot remind --now`` can use it while nothing is polling."""

    def find_chat(self, email: str) -> str | None:
        """A chat to reach the person with this hub email who has never
        written to the bot (Slack: users.lookupByEmail); None if unknown."""
