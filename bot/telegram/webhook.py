"""The webhook endpoint, a plain ASGI app the bot's web server mounts at
``/telegram/webhook``.

Every request must carry the secret token given to ``setWebhook`` in
``X-Telegram-Bot-Api-Secret-Token``; it is compared in constant time, and a
wrong or missing one gets 403 with nothing read or done. An accepted update is
queued for the bot's own event loop and answered 200 at once; the update is
processed there (once: see :mod:`bot.telegram.updates`). While the bot is not
running the answer is 503, and Telegram delivers the update again later.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = b"x-telegram-bot-api-secret-token"
MAX_BODY = 1024 * 1024

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class WebhookEndpoint:
    def __init__(self, secret: str, accept: Callable[[dict[str, Any]], Awaitable[bool]]) -> None:
        """``accept(update)`` queues an update; False when the bot is not running."""
        if not secret:
            raise ValueError("a webhook needs a secret token")
        self._secret = secret.encode()
        self._accept = accept
        self._warned_at = -1e9

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # run on its own (not mounted): nothing to set up
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if scope.get("method") != "POST":
            await _respond(send, 405, b"POST only", [(b"allow", b"POST")])
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name.lower() == SECRET_HEADER:
                given = value
        if not hmac.compare_digest(given, self._secret):
            now = time.monotonic()
            if now - self._warned_at > 60:  # a flood of them must not flood the log
                self._warned_at = now
                log.warning("Telegram webhook: a request without the right secret was refused")
            await _respond(send, 403, b"forbidden")
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, b"too large")
            return
        try:
            update = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            update = None
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            await _respond(send, 400, b"not an update")
            return
        if not await self._accept(update):
            await _respond(send, 503, b"not running")
            return
        await _respond(send, 200, b"ok")


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
