"""Telegram's Bot API and Slack's Web API as asyncio servers on loopback, for
`make load`: quick enough to stay out of the measurement, and recording what
the bot sent so each simulated person can wait for their own replies.

(The test suites have their own, simpler, threaded fakes that also inject
failures; these are built for throughput.)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Hub", "username": "hub_load_bot"}
JSON_FIELDS = {
    "reply_markup",
    "commands",
    "scope",
    "allowed_updates",
    "link_preview_options",
    "blocks",
    "view",
    "users",
}


async def _params(request: web.Request) -> dict[str, Any]:
    body = await request.read()
    if not body:
        return dict(request.query)
    if request.content_type == "application/json":
        return json.loads(body)
    raw = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    return {k: json.loads(v) if k in JSON_FIELDS and v[:1] in "[{" else v for k, v in raw.items()}


class Inbox:
    """What the bot sent to each chat, for the person behind it to read."""

    def __init__(self) -> None:
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self.calls: dict[str, int] = defaultdict(int)

    def put(self, chat: str, message: dict[str, Any]) -> None:
        message["received_at"] = time.perf_counter()
        self.queues[chat].put_nowait(message)


class FakeTelegram:
    def __init__(self, token: str) -> None:
        self.token = token
        self.inbox = Inbox()
        self.updates: list[dict[str, Any]] = []
        self.new_update = asyncio.Event()
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(1)
        self.sent_at: dict[int, float] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", f"/bot{self.token}/{{method}}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        self.inbox.calls[method] += 1
        result: Any = True
        if method == "getMe":
            result = BOT_USER
        elif method == "getUpdates":
            result = await self._get_updates(params)
        elif method in ("sendMessage", "editMessageText"):
            chat = str(params["chat_id"])
            message_id = int(params.get("message_id") or next(self.message_ids))
            result = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": int(chat), "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            if params.get("reply_markup"):
                result["reply_markup"] = params["reply_markup"]
            self.inbox.put(chat, dict(result, method=method))
        elif method == "editMessageReplyMarkup":
            result = {
                "message_id": int(params["message_id"]),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
            }
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates and timeout:
            self.new_update.clear()
            try:
                await asyncio.wait_for(self.new_update.wait(), timeout)
            except TimeoutError:
                pass
        return self.updates[:100]

    def _push(self, update: dict[str, Any]) -> None:
        update["update_id"] = next(self.update_ids)
        self.updates.append(update)
        self.new_update.set()

    def send_text(self, chat_id: int, text: str) -> None:
        self._push(
            {
                "message": {
                    "message_id": next(self.message_ids),
                    "date": int(time.time()),
                    "text": text,
                    "chat": {"id": chat_id, "type": "private"},
                    "from": {"id": chat_id, "is_bot": False, "first_name": f"User{chat_id}"},
                }
            }
        )

    def press(self, chat_id: int, message: dict[str, Any], data: str) -> None:
        self._push(
            {
                "callback_query": {
                    "id": str(next(self.update_ids)),
                    "chat_instance": str(chat_id),
                    "data": data,
                    "from": {"id": chat_id, "is_bot": False, "first_name": f"User{chat_id}"},
                    "message": {
                        "message_id": message["message_id"],
                        "date": message["date"],
                        "chat": message["chat"],
                        "text": message.get("text", ""),
                        "reply_markup": message.get("reply_markup"),
                    },
                }
            }
        )


def telegram_buttons(message: dict[str, Any]) -> dict[str, str]:
    """label → callback data of an inline keyboard (tick marks stripped)."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"].lstrip("✅⬜ ").strip(): b["callback_data"] for row in rows for b in row}


class FakeSlack:
    """The Web API methods the bot calls; ``emails`` answers users.info."""

    def __init__(self, emails: dict[str, str]) -> None:
        self.emails = emails
        self.by_email = {v: k for k, v in emails.items()}
        self.inbox = Inbox()
        self.ts = itertools.count(1)
        self.fail_with: int | None = None  # answer every call with this status

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        self.inbox.calls[method] += 1
        if self.fail_with == 429:
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
            )
        if self.fail_with:
            return web.json_response({"ok": False, "error": "fatal_error"}, status=self.fail_with)
        answer: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            answer.update(user_id="UBOT", bot_id="BBOT", team_id="T1", user="hub")
        elif method == "users.info":
            user = params.get("user", "")
            if user not in self.emails:
                return web.json_response({"ok": False, "error": "user_not_found"})
            answer["user"] = {"id": user, "name": user, "profile": {"email": self.emails[user]}}
        elif method == "users.lookupByEmail":
            user = self.by_email.get(params.get("email", ""))
            if user is None:
                return web.json_response({"ok": False, "error": "users_not_found"})
            answer["user"] = {"id": user, "profile": {"email": params["email"]}}
        elif method == "conversations.open":
            users = params.get("users", "")
            answer["channel"] = {"id": "D" + str(users).split(",")[0]}
        elif method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            channel = str(params.get("channel", ""))
            ts = params.get("ts") or f"{time.time():.0f}.{next(self.ts):06d}"
            answer.update(channel=channel, ts=ts, message={"ts": ts, "text": params.get("text")})
            self.inbox.put(channel, dict(params, ts=ts, method=method))
        return web.json_response(answer)


def slack_buttons(message: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """label → (action_id, block_id, value) of the buttons and checkboxes."""
    found: dict[str, tuple[str, str, str]] = {}
    blocks = message.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for block in blocks:
        for element in block.get("elements", []) + (
            [block["accessory"]] if "accessory" in block else []
        ):
            if element.get("type") == "button":
                found[element["text"]["text"]] = (
                    element["action_id"],
                    block.get("block_id", ""),
                    element.get("value", ""),
                )
            for option in element.get("options", []):
                label = option["text"]["text"]
                found[label] = (
                    element.get("action_id", ""),
                    block.get("block_id", ""),
                    option.get("value", ""),
                )
    return found


async def serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    sock = site._server.sockets[0]  # type: ignore[union-attr]
    return runner, sock.getsockname()[1]
