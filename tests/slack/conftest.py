"""The real Bolt app in HTTP mode on loopback, talking to a Slack Web API
written here, and Slack users who send it signed requests exactly as Slack
does (slash-command form posts, ``event_callback`` JSON, ``block_actions``
and ``view_submission`` payloads).

Nothing of ours is mocked: the front end runs on a real TinyDB store in
``tmp_path`` through :func:`bot.app.open_app`, with the real engine.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import httpx
import pytest

from bot.app import App, open_app
from bot.config import load
from bot.runner import build_engine
from bot.slack import create as create_slack
from bot.slack.frontend import SlackFrontEnd
from bot.web import WebServer, build_web_app
from hub.demo import DEMO_COORDINATOR, ensure_demo

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
TEAM = "T0SCHOOL"
BOT_USER = "UBOTHUB"
_ids = itertools.count(1)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


# ----------------------------------------------------------- the Web API
@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200


@dataclass
class Failure:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    """Slack's Web API on a loopback port: answers what the bot calls and
    records every call (and every post to a ``response_url``)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.homes: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.socket_url = ""  # where apps.connections.open sends Socket Mode
        self.failures: dict[str, list[Failure]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ----------------------------------------------------------- setup
    def add_user(self, user_id: str, email: str | None, **extra: Any) -> None:
        profile = {"email": email} if email else {}
        self.users[user_id] = {"id": user_id, "profile": profile, "deleted": False, **extra}

    def fail_next(self, method: str, failure: Failure) -> None:
        self.failures.setdefault(method, []).append(failure)

    # -------------------------------------------------------- reading
    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [
            c.params
            for c in self.calls
            if c.method == "chat.postMessage"
            and c.status == 200
            and (channel is None or c.params.get("channel") == channel)
        ]

    def texts(self, channel: str | None = None) -> list[str]:
        return [p.get("text", "") for p in self.posted(channel)]

    def everything_said(self) -> str:
        """Every text and block the bot sent anywhere, as one string."""
        return json.dumps(
            [c.params for c in self.calls if c.method not in ("users.info", "auth.test")]
        )

    def transcript(self, start: int = 0) -> list[str]:
        """What the bot did from call ``start`` on, one line each, as a
        person would see it (buttons as [Label], tick boxes as [x] / [ ])."""
        out = []
        for call in self.calls[start:]:
            p = call.params
            if call.status != 200:
                out.append(f"  bot ✗ {call.method} answered {call.status}")
            elif call.method == "chat.postMessage":
                out.append(f"  bot → {p['channel']}: {_shown(p)}")
            elif call.method == "chat.update":
                out.append(f"  bot ✎ {p['channel']} {p['ts']}: {_shown(p)}")
            elif call.method == "chat.postEphemeral":
                out.append(f"  bot → (only {p['user']} in {p['channel']}): {p.get('text', '')}")
            elif call.method == "response_url":
                out.append(f"  bot → (only you, via response_url): {p.get('text', '')}")
            elif call.method == "views.open":
                blocks = [b.get("label", {}).get("text") for b in p["view"]["blocks"]]
                out.append(f"  bot opens modal {p['view']['title']['text']!r}: {blocks}")
            elif call.method == "views.publish":
                out.append(f"  bot publishes App Home for {p['user_id']}: {_shown(p['view'])}")
            elif call.method not in ("auth.test",):
                out.append(f"  bot calls {call.method} {dict(sorted(p.items()))}")
        return out

    # -------------------------------------------------------- serving
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlparse(request.path)
        length = int(request.headers.get("content-length") or 0)
        raw = request.rfile.read(length) if length else b""
        params: dict[str, Any] = dict(parse_qsl(url.query))
        kind = request.headers.get("content-type", "")
        if raw and kind.startswith("application/json"):
            params.update(json.loads(raw))
        elif raw:
            params.update(dict(parse_qsl(raw.decode())))
        if url.path.startswith("/files/"):
            self._send_file(request, url.path[len("/files/") :])
            return
        if url.path.startswith("/response/"):
            method = "response_url"
        elif url.path.startswith("/api/"):
            method = url.path[len("/api/") :]
            token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
            if request.headers.get("authorization") != f"Bearer {token}":
                self._reply(request, 200, {"ok": False, "error": "not_authed"})
                return
        else:
            self._reply(request, 404, {"ok": False})
            return
        with self._lock:
            queue = self.failures.get(method) or []
            failure = queue.pop(0) if queue else None
            call = Call(method, params, time.monotonic(), failure.status if failure else 200)
            self.calls.append(call)
            if failure is not None:
                answer = failure.body or {"ok": False, "error": "ratelimited"}
                self._reply(request, failure.status, answer, failure.headers)
                return
            answer = self._answer(method, params)
        self._reply(request, 200, answer)

    def _send_file(self, request: BaseHTTPRequestHandler, name: str) -> None:
        self.calls.append(Call("file", {"name": name}, time.monotonic()))
        data = self.files.get(name)
        authorised = request.headers.get("authorization") == f"Bearer {BOT_TOKEN}"
        request.send_response(200 if data is not None and authorised else 404)
        request.send_header("content-length", str(len(data or b"")))
        request.end_headers()
        request.wfile.write(data or b"")

    @staticmethod
    def _reply(
        request: BaseHTTPRequestHandler,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("content-type", "application/json; charset=utf-8")
        request.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            request.send_header(k, v)
        request.end_headers()
        request.wfile.write(data)

    def _next_ts(self) -> str:
        return f"1760000000.{next(self._ts):06d}"

    def _answer(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://school.slack.com/",
                "team": "Test School",
                "user": "hub",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": "BHUB",
            }
        if method == "users.info":
            user = self.users.get(p.get("user", ""))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        if method == "users.lookupByEmail":
            for user in self.users.values():
                if user["profile"].get("email", "").lower() == p.get("email", "").lower():
                    return {"ok": True, "user": user}
            return {"ok": False, "error": "users_not_found"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + p["users"]}}
        if method == "chat.postMessage":
            ts = self._next_ts()
            blocks = _with_block_ids(p.get("blocks") or [])
            message = {
                "type": "message",
                "user": BOT_USER,
                "bot_id": "BHUB",
                "ts": ts,
                "text": p.get("text", ""),
                "blocks": blocks,
            }
            self.messages[(p["channel"], ts)] = message
            return {"ok": True, "channel": p["channel"], "ts": ts, "message": message}
        if method == "chat.update":
            key = (p["channel"], p["ts"])
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key].update(
                text=p.get("text", ""), blocks=_with_block_ids(p.get("blocks") or [])
            )
            return {"ok": True, "channel": p["channel"], "ts": p["ts"], "text": p.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "views.open":
            view_id = f"V{next(_ids):05d}"
            view = {**p["view"], "id": view_id, "hash": f"h{view_id}"}
            self.views[view_id] = view
            return {"ok": True, "view": view}
        if method == "views.publish":
            self.homes[p["user_id"]] = p["view"]
            return {"ok": True, "view": {**p["view"], "id": "VHOME"}}
        if method == "response_url":
            return {"ok": True}
        if method == "apps.connections.open":
            if not self.socket_url:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": self.socket_url}
        return {"ok": False, "error": "unknown_method"}


def _shown(message: dict[str, Any]) -> str:
    parts = []
    for block in message.get("blocks") or []:
        if block.get("type") in ("section", "context", "header"):
            text = block.get("text") or (block.get("elements") or [{}])[0]
            if text:
                parts.append(text.get("text", ""))
            for f in block.get("fields", []):
                parts.append(f["text"].replace("\n", " "))
        for e in block.get("elements", []) if block.get("type") == "actions" else []:
            if e.get("type") == "button":
                parts.append(f"[{e['text']['text']}]")
            elif e.get("type") == "checkboxes":
                on = {o["value"] for o in e.get("initial_options", [])}
                parts += [
                    f"[{'x' if o['value'] in on else ' '}] {o['text']['text']}"
                    for o in e["options"]
                ]
    return " | ".join(parts) if parts else message.get("text", "")


def _with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slack gives every block an id when the app does not."""
    return [b if b.get("block_id") else {**b, "block_id": f"b{n}"} for n, b in enumerate(blocks)]


# ------------------------------------------------------------- the bot
@dataclass
class Bot:
    app: App
    frontend: SlackFrontEnd
    server: WebServer
    api: FakeSlack
    http: httpx.Client

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/slack/events"

    def settle(self) -> None:
        assert self.frontend.wait_idle(20), "the bot is still working"

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        settle: bool = True,
    ) -> httpx.Response:
        ts = int(time.time()) if timestamp is None else timestamp
        sent = {
            "content-type": content_type,
            "x-slack-request-timestamp": str(ts),
            "x-slack-signature": sign(secret, ts, body),
            **(headers or {}),
        }
        response = self.http.post(self.url, content=body, headers=sent)
        if settle:
            self.settle()
        return response

    def user(self, user_id: str, email: str | None) -> SlackUser:
        self.api.add_user(user_id, email)
        return SlackUser(self, user_id)


class SlackUser:
    """Someone in the workspace, doing what Slack's client would send."""

    def __init__(self, bot: Bot, user_id: str) -> None:
        self.bot = bot
        self.id = user_id
        self.dm = "D" + user_id
        # Tick boxes changed in the client but not yet sent: message ts → tokens
        self._ticked: dict[str, set[str]] = {}

    # --------------------------------------------------------- sending
    def slash(self, text: str = "", channel: str | None = None, **kw: Any) -> httpx.Response:
        form = {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "school",
            "channel_id": channel or self.dm,
            "channel_name": "general" if channel else "directmessage",
            "user_id": self.id,
            "user_name": self.id.lower(),
            "command": "/hub",
            "text": text,
            "api_app_id": "AHUB",
            "response_url": f"{self.bot.api.url}/response/{next(_ids)}",
            "trigger_id": f"{next(_ids)}.{self.id}.trigger",
        }
        return self.bot.post(urlencode(form).encode(), "application/x-www-form-urlencoded", **kw)

    def event(
        self, event: dict[str, Any], event_id: str | None = None, **kw: Any
    ) -> httpx.Response:
        body = {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "AHUB",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        }
        return self.bot.post(json.dumps(body).encode(), "application/json", **kw)

    def say(self, text: str, **kw: Any) -> httpx.Response:
        """A direct message to the bot (Slack sends addresses as mailto links)."""
        return self.event(
            {
                "type": "message",
                "channel": self.dm,
                "channel_type": "im",
                "user": self.id,
                "text": _slack_markup(text),
                "ts": f"{time.time():.6f}",
                "event_ts": f"{time.time():.6f}",
            },
            **kw,
        )

    def mention(self, text: str, channel: str = "CGENERAL") -> httpx.Response:
        return self.event(
            {
                "type": "app_mention",
                "channel": channel,
                "user": self.id,
                "text": f"<@{BOT_USER}> {_slack_markup(text)}",
                "ts": f"{time.time():.6f}",
                "event_ts": f"{time.time():.6f}",
            }
        )

    def open_home(self) -> dict[str, Any]:
        self.event(
            {
                "type": "app_home_opened",
                "user": self.id,
                "channel": self.dm,
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            }
        )
        return self.bot.api.homes[self.id]

    def interact(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        payload = {
            "team": {"id": TEAM, "domain": "school"},
            "user": {"id": self.id, "username": self.id.lower(), "team_id": TEAM},
            "api_app_id": "AHUB",
            "token": "legacy",
            "trigger_id": f"{next(_ids)}.{self.id}.trigger",
            **payload,
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.bot.post(body, "application/x-www-form-urlencoded", **kw)

    # -------------------------------------------------------- messages
    def messages(self) -> list[dict[str, Any]]:
        """The bot's messages in this user's DM, oldest first, as they are
        now (copies: a later chat.update does not change what a test holds)."""
        found = [copy.deepcopy(m) for (ch, _), m in self.bot.api.messages.items() if ch == self.dm]
        return sorted(found, key=lambda m: m["ts"])

    def last(self) -> dict[str, Any]:
        return self.messages()[-1]

    def last_text(self) -> str:
        return self.last()["text"]

    def message_with(self, label: str) -> dict[str, Any]:
        """The newest message of the DM with a button or box labelled so."""
        for message in reversed(self.messages()):
            if _find(message, label) is not None:
                return message
        raise AssertionError(f"no message has {label!r}: {[m['text'] for m in self.messages()]}")

    def tick(self, label: str, message: dict[str, Any] | None = None) -> None:
        """Tick or untick a box in the client (Slack sends nothing to the bot
        the bot acts on until a button of the message is pressed)."""
        message = message or self.message_with(label)
        element, option = _find(message, label)  # type: ignore[misc]
        ticked = self._ticked.setdefault(
            message["ts"], {o["value"] for o in element.get("initial_options", [])}
        )
        ticked ^= {option["value"]}
        self.interact(
            {
                "type": "block_actions",
                **self._where(message),
                "actions": [
                    {
                        "type": "checkboxes",
                        "action_id": element["action_id"],
                        "block_id": "hub_ticks",
                        "selected_options": self._selected(message),
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
                "state": self._state(message),
            }
        )

    def press(
        self,
        label: str,
        message: dict[str, Any] | None = None,
        action_ts: str | None = None,
        **kw: Any,
    ) -> httpx.Response:
        message = message or self.message_with(label)
        found = _find(message, label)
        assert found is not None, f"{label!r} is not on {message['text']!r}"
        element, block = found
        return self.interact(
            {
                "type": "block_actions",
                **self._where(message),
                "actions": [
                    {
                        "type": "button",
                        "action_id": element["action_id"],
                        "block_id": block["block_id"],
                        "text": element["text"],
                        "value": element["value"],
                        "action_ts": action_ts or f"{time.time():.6f}",
                    }
                ],
                "state": self._state(message),
            },
            **kw,
        )

    def press_home(self, label: str, **kw: Any) -> httpx.Response:
        view = self.bot.api.homes[self.id]
        for block in view["blocks"]:
            for element in block.get("elements", []):
                if element.get("type") == "button" and element["text"]["text"] == label:
                    return self.interact(
                        {
                            "type": "block_actions",
                            "container": {"type": "view", "view_id": "VHOME"},
                            "view": {**view, "id": "VHOME"},
                            "actions": [
                                {
                                    "type": "button",
                                    "action_id": element["action_id"],
                                    "block_id": "home_actions",
                                    "text": element["text"],
                                    "value": element.get("value", ""),
                                    "action_ts": f"{time.time():.6f}",
                                }
                            ],
                        },
                        **kw,
                    )
        raise AssertionError(f"no {label!r} on the home tab")

    def submit(self, view: dict[str, Any], *, settle: bool = True, **fields: Any) -> httpx.Response:
        """Fill in and submit a modal: name="…", email="…", admin=True,
        sites=["primary", …]."""
        values: dict[str, Any] = {}
        if "name" in fields:
            values["name"] = {"value": {"type": "plain_text_input", "value": fields["name"]}}
        if "email" in fields:
            values["email"] = {"value": {"type": "plain_text_input", "value": fields["email"]}}
        if "admin" in fields:
            choice = "yes" if fields["admin"] else "no"
            values["admin"] = {
                "value": {"type": "radio_buttons", "selected_option": {"value": choice}}
            }
        values["sites"] = {
            "value": {
                "type": "checkboxes",
                "selected_options": [{"value": s} for s in fields.get("sites", [])],
            }
        }
        return self.interact(
            {
                "type": "view_submission",
                "view": {**view, "state": {"values": values}},
                "response_urls": [],
            },
            settle=settle,
        )

    # --------------------------------------------------------- helpers
    def _where(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": self.dm,
                "is_ephemeral": False,
            },
            "channel": {"id": self.dm, "name": "directmessage"},
            "message": message,
            "response_url": f"{self.bot.api.url}/response/{next(_ids)}",
        }

    def _selected(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        ticked = self._ticked.get(message["ts"])
        options = [
            o
            for block in message["blocks"]
            for e in block.get("elements", [])
            if e.get("type") == "checkboxes"
            for o in e["options"]
        ]
        if ticked is None:
            return [
                o
                for block in message["blocks"]
                for e in block.get("elements", [])
                if e.get("type") == "checkboxes"
                for o in e.get("initial_options", [])
            ]
        return [o for o in options if o["value"] in ticked]

    def _state(self, message: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for block in message["blocks"]:
            for element in block.get("elements", []):
                if element.get("type") == "checkboxes":
                    chosen = {o["value"] for o in self._selected(message)}
                    selected = [o for o in element["options"] if o["value"] in chosen]
                    values.setdefault(block["block_id"], {})[element["action_id"]] = {
                        "type": "checkboxes",
                        "selected_options": selected,
                    }
        return {"values": values}


def _find(message: dict[str, Any], label: str) -> Any:
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "button" and element["text"]["text"] == label:
                return element, block
            for option in element.get("options", []) if element.get("type") == "checkboxes" else []:
                if option["text"]["text"] == label:
                    return element, option
    return None


def _slack_markup(text: str) -> str:
    """What Slack's client sends for typed text: entities, and addresses as
    mailto links."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", lambda m: f"<mailto:{m[0]}|{m[0]}>", text)


# ------------------------------------------------------------ fixtures
@pytest.fixture
def api() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


def start_bot(data_dir: Path, api: FakeSlack, **env: str) -> Bot:
    environ = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{api.url}/api/",
        **env,
    }
    app = open_app(load(environ=environ, env_file=None, data_dir=data_dir))
    ensure_demo(app.hub)
    frontend = create_slack(app, build_engine(app))
    frontend.start()
    # The bot's own web server, with the front end mounted as `hubbot run` does.
    web = build_web_app(app.hub, mounts=frontend.http_mounts())
    server = WebServer(replace(app.config, http_host="127.0.0.1", http_port=0), web)
    server.start()
    return Bot(app, frontend, server, api, httpx.Client(timeout=30))


def stop_bot(bot: Bot) -> None:
    bot.http.close()
    bot.server.stop()
    bot.frontend.stop()
    bot.app.close()


@pytest.fixture
def bot(tmp_path: Path, api: FakeSlack) -> Iterator[Bot]:
    running = start_bot(tmp_path / "data", api)
    yield running
    stop_bot(running)


@pytest.fixture
def make_user(bot: Bot) -> Callable[[str, str | None], SlackUser]:
    return bot.user


@pytest.fixture
def cora(bot: Bot) -> SlackUser:
    """The demo centre's coordinator, Cora Ordinator."""
    return bot.user("UCORA", DEMO_COORDINATOR)
