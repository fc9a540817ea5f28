"""The Telegram front end against a Bot API server of our own on loopback.

:class:`FakeBotAPI` is a small threaded HTTP server that speaks the Bot API
methods the bot uses, checks what Telegram would check (HTML entities and
tags, text length, callback data of at most 64 bytes, "message is not
modified"), keeps the messages of each chat so that edits show, and records
every call. Updates are pushed into it as a Telegram user would cause them:
a text, a command, a button press, a document. The real python-telegram-bot
``Application`` polls it over real HTTP.

:class:`TgUser` is one person in a private chat: ``send``, ``press`` a button
by its label, ``upload`` a file; each waits until the bot has finished with
the update and returns what the bot did in that chat.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from bot.app import App, open_app
from bot.config import load
from bot.telegram import TelegramFrontEnd
from bot.telegram.frontend import local
from bot.telegram.limits import FloodControl
from handlers.conversations import all_conversations
from handlers.engine import Engine
from hub.demo import ensure_demo
from hub.outbox import all_emails

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz"
BOT_ID = 123456
BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "School Support Hub",
    "username": "HubTestBot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "scope", "link_preview_options"}
ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "tg-spoiler", "span", "blockquote", "tg-emoji",
}  # fmt: skip
BAD_ENTITY = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


class ApiError(Exception):
    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class _TagCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in ALLOWED_TAGS:
            self.problem = self.problem or f'unsupported start tag "{tag}"'
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problem = self.problem or f'unexpected end tag "{tag}"'
        else:
            self.open.pop()

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.problem = self.problem or f'unsupported entity "&{name};"'


def plain_text(text: str, parse_mode: str | None) -> str:
    """What the person sees: Telegram's parsing of an HTML message."""
    if parse_mode != "HTML":
        return text
    if BAD_ENTITY.search(text):
        raise ApiError(400, "Bad Request: can't parse entities: unsupported entity")
    check = _TagCheck()
    check.feed(text)
    check.close()
    if check.problem or check.open:
        raise ApiError(400, f"Bad Request: can't parse entities: {check.problem or 'unclosed'}")
    return html.unescape(re.sub(r"<[^>]*>", "", text))


@dataclass
class Call:
    seq: int
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    result: Any = None


@dataclass
class Stored:
    chat_id: int
    message_id: int
    text: str  # as shown
    html: str
    markup: dict[str, Any] | None

    def labels(self) -> list[str]:
        rows = (self.markup or {}).get("inline_keyboard", [])
        return [b["text"] for row in rows for b in row]

    def data_for(self, label: str) -> str:
        rows = (self.markup or {}).get("inline_keyboard", [])
        for row in rows:
            for b in row:
                if b["text"] == label:
                    return b["callback_data"]
        raise KeyError(label)

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "message_id": self.message_id,
            "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "private" if self.chat_id > 0 else "group"},
            "from": BOT_USER,
            "text": self.text,
        }
        if self.markup and self.markup.get("inline_keyboard"):
            doc["reply_markup"] = self.markup
        return doc


class FakeBotAPI:
    """A Bot API server on loopback. ``fail_next(method, ...)`` queues error
    answers; ``always_fail(method, ...)`` makes a method fail every time."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.cond = threading.Condition()
        self.pending: list[dict[str, Any]] = []  # updates not yet confirmed by offset
        self.forced: list[dict[str, Any]] = []  # redeliveries, whatever the offset
        self.next_update_id = 5000
        self.next_message_id = 1
        self.messages: dict[tuple[int, int], Stored] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self.queries: set[str] = set()
        self.failures: dict[str, list[ApiError]] = {}
        self.failing: dict[str, ApiError] = {}
        self.webhook: dict[str, Any] | None = None
        self.polls = 0
        self.log: list[tuple[str, str]] = []  # (who, line): a transcript of the chat
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api._serve(self)

            def do_POST(self) -> None:
                api._serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None  # type: ignore[method-assign]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        with self.cond:
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # -------------------------------------------------------------- HTTP
    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        path = unquote(urlsplit(request.path).path)
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        file_prefix = f"/file/bot{self.token}/"
        if request.command == "GET" and path.startswith(file_prefix):
            found = [d for p, d in self.files.values() if p == path[len(file_prefix) :]]
            self._reply(request, 200 if found else 404, found[0] if found else b"not found")
            return
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            self._json(
                request, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
            return
        method = path[len(prefix) :]
        params = self._params(request.headers.get("Content-Type", ""), body)
        with self.cond:
            call = Call(len(self.calls), method, params, time.monotonic())
            self.calls.append(call)
            self.cond.notify_all()
        try:
            error = self._planned_failure(method)
            if error is not None:
                raise error
            handler = getattr(self, f"m_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = handler(params)
        except ApiError as exc:
            call.status = exc.code
            answer: dict[str, Any] = {
                "ok": False,
                "error_code": exc.code,
                "description": exc.description,
            }
            if exc.parameters:
                answer["parameters"] = exc.parameters
            self._json(request, exc.code, answer)
            return
        call.result = result
        self._json(request, 200, {"ok": True, "result": result})

    @staticmethod
    def _params(content_type: str, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        if content_type.startswith("application/json"):
            return json.loads(body)
        raw = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in JSON_FIELDS:
                params[key] = json.loads(value)
            elif key in ("chat_id", "message_id", "offset", "limit") and re.fullmatch(
                r"-?\d+", value
            ):
                params[key] = int(value)
            elif key == "timeout":
                params[key] = float(value)
            else:
                params[key] = value
        return params

    def _reply(self, request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        try:
            request.wfile.write(body)
        except OSError:  # the bot gave up waiting (polling stopped)
            pass

    def _json(self, request: BaseHTTPRequestHandler, status: int, doc: dict[str, Any]) -> None:
        self._reply(request, status, json.dumps(doc).encode())

    def _planned_failure(self, method: str) -> ApiError | None:
        with self.cond:
            queued = self.failures.get(method)
            if queued:
                return queued.pop(0)
            return self.failing.get(method)

    def fail_next(self, method: str, code: int, description: str, **parameters: Any) -> None:
        with self.cond:
            self.failures.setdefault(method, []).append(ApiError(code, description, **parameters))

    def always_fail(self, method: str, code: int, description: str) -> None:
        self.failing[method] = ApiError(code, description)

    # ------------------------------------------------------------ methods
    def m_getMe(self, p: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    def m_deleteWebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    def m_setWebhook(self, p: dict[str, Any]) -> bool:
        if not str(p.get("url", "")).startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        self.webhook = p
        return True

    def m_setMyCommands(self, p: dict[str, Any]) -> bool:
        for command in p.get("commands", []):
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        return True

    def m_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(p.get("offset") or 0)
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        with self.cond:
            # As on Telegram, a new getUpdates ends the one still waiting (409
            # there), so a bot that stopped polling takes no updates with it.
            self.polls += 1
            mine = self.polls
            while True:
                if mine != self.polls:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request")
                if offset:
                    self.pending = [u for u in self.pending if u["update_id"] >= offset]
                ready = self.forced + self.pending
                if ready or time.monotonic() >= deadline:
                    self.forced = []
                    return ready[:100]
                self.cond.wait(max(0.0, deadline - time.monotonic()))

    def _check_markup(self, markup: dict[str, Any] | None) -> None:
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data", "")
                if not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    def _text(self, p: dict[str, Any]) -> str:
        shown = plain_text(p.get("text", ""), p.get("parse_mode"))
        if not shown.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(shown.encode("utf-16-le")) // 2 > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return shown

    def m_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(p["chat_id"])
        shown = self._text(p)
        self._check_markup(p.get("reply_markup"))
        with self.cond:
            message = Stored(chat_id, self.next_message_id, shown, p["text"], p.get("reply_markup"))
            self.next_message_id += 1
            self.messages[(chat_id, message.message_id)] = message
            self.log.append(("bot", _show(message)))
        return message.as_dict()

    def _message(self, p: dict[str, Any]) -> Stored:
        found = self.messages.get((int(p["chat_id"]), int(p["message_id"])))
        if found is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return found

    def m_editMessageText(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self._message(p)
        shown = self._text(p)
        self._check_markup(p.get("reply_markup"))
        markup = p.get("reply_markup")
        if shown == message.text and markup == message.markup:
            raise ApiError(400, "Bad Request: message is not modified")
        with self.cond:
            message.text, message.html, message.markup = shown, p["text"], markup
            self.log.append(("bot", f"(edits message {message.message_id}) " + _show(message)))
        return message.as_dict()

    def m_editMessageReplyMarkup(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self._message(p)
        markup = p.get("reply_markup")
        if markup == message.markup or (not markup and not message.markup):
            raise ApiError(400, "Bad Request: message is not modified")
        with self.cond:
            message.markup = markup
            self.log.append(("bot", f"(removes the buttons of message {message.message_id})"))
        return message.as_dict()

    def m_answerCallbackQuery(self, p: dict[str, Any]) -> bool:
        if p.get("callback_query_id") not in self.queries:
            raise ApiError(400, "Bad Request: query is too old or query ID is invalid")
        return True

    def m_getFile(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = p.get("file_id", "")
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data),
            "file_path": path,
        }

    # ------------------------------------------------------------ updates
    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        with self.cond:
            if "update_id" not in update:
                update = {"update_id": self.next_update_id, **update}
                self.next_update_id += 1
            self.pending.append(update)
            self.cond.notify_all()
        return update

    def deliver_again(self, update: dict[str, Any]) -> None:
        """Telegram sending an update a second time (lost confirmation)."""
        with self.cond:
            self.forced.append(update)
            self.cond.notify_all()

    def new_update_id(self) -> int:
        with self.cond:
            self.next_update_id += 1
            return self.next_update_id - 1

    def mark(self) -> int:
        with self.cond:
            return len(self.calls)

    def calls_since(self, mark: int, *methods: str) -> list[Call]:
        with self.cond:
            return [c for c in self.calls[mark:] if not methods or c.method in methods]

    def wait_for(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not (found := check()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for the bot")
                self.cond.wait(left)
            return found

    def called(self, method: str) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if c.method == method]

    def chat(self, chat_id: int) -> list[Stored]:
        return [m for (c, _), m in sorted(self.messages.items()) if c == chat_id]

    def transcript(self) -> str:
        return "\n".join(f"{who:>4}: {text}" for who, text in self.log)


def _show(message: Stored) -> str:
    text = message.text
    labels = message.labels()
    return text + ("".join(f"\n        [{label}]" for label in labels) if labels else "")


@dataclass
class Out:
    """What the bot did in a chat for one update."""

    sent: list[Stored] = field(default_factory=list)
    edited: list[Stored] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.sent]

    @property
    def text(self) -> str:
        return "\n".join(m.text for m in [*self.edited, *self.sent])

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]


class TgUser:
    """A Telegram user in a private chat with the bot."""

    def __init__(
        self, api: FakeBotAPI, frontend: TelegramFrontEnd, user_id: int, name: str
    ) -> None:
        self.api = api
        self.frontend = frontend
        self.user_id = user_id
        self.name = name
        self.last_update: dict[str, Any] | None = None

    @property
    def chat(self) -> dict[str, Any]:
        return {"id": self.user_id, "type": "private", "first_name": self.name}

    @property
    def user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": self.name}

    def message(self, **fields: Any) -> dict[str, Any]:
        with self.api.cond:
            message_id = self.api.next_message_id
            self.api.next_message_id += 1
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self.chat,
            "from": self.user,
            **fields,
        }

    def text_update(self, text: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"text": text}
        command = re.match(r"/\w+(@\w+)?", text)
        if command:
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        return {"message": self.message(**fields)}

    def deliver(self, update: dict[str, Any], said: str, timeout: float = 15.0) -> Out:
        mark = self.api.mark()
        with self.api.cond:
            self.api.log.append((self.name.split()[0].lower()[:4], said))
        pushed = self.api.push(update)
        self.last_update = pushed
        assert self.frontend.finished.wait_for(pushed["update_id"], timeout), "no answer"
        return self.since(mark)

    def since(self, mark: int) -> Out:
        out = Out()
        for call in self.api.calls_since(mark):
            out.calls.append(call)
            if call.status != 200:
                continue
            if call.params.get("chat_id") not in (self.user_id, str(self.user_id)):
                continue
            if call.method in ("sendMessage", "editMessageText"):
                stored = self.api.messages[(self.user_id, call.result["message_id"])]
                (out.sent if call.method == "sendMessage" else out.edited).append(stored)
        return out

    def send(self, text: str) -> Out:
        return self.deliver(self.text_update(text), text)

    def last_with(self, label: str) -> Stored:
        for message in reversed(self.api.chat(self.user_id)):
            if label in message.labels():
                return message
        raise AssertionError(f"no message in the chat has a button {label!r}")

    def press_update(self, label: str, message: Stored | None = None) -> dict[str, Any]:
        message = message or self.last_with(label)
        with self.api.cond:
            query_id = f"q{len(self.api.queries) + 1}"
            self.api.queries.add(query_id)
        return {
            "callback_query": {
                "id": query_id,
                "from": self.user,
                "chat_instance": "ci",
                "message": message.as_dict(),
                "data": message.data_for(label),
            }
        }

    def press(self, label: str, message: Stored | None = None) -> Out:
        return self.deliver(self.press_update(label, message), f"[presses {label}]")

    def upload(self, filename: str, data: bytes, mime_type: str = "text/csv") -> Out:
        with self.api.cond:
            file_id = f"f{len(self.api.files) + 1}"
            self.api.files[file_id] = (f"documents/file_{len(self.api.files)}.csv", data)
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        return self.deliver(
            {"message": self.message(document=document)}, f"[sends the file {filename}]"
        )


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI()
    server.start()
    yield server
    server.stop()
    if server.log:  # shown by pytest when a test fails
        print("--- the chat, as the fake Bot API saw it ---")
        print(server.transcript())


def make_app(data_dir: Path, api_url: str, **env: str) -> App:
    environ = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api_url,
        "HUB_PUBLIC_URL": "https://hub.example.org",
        **env,
    }
    return open_app(load(environ=environ, env_file=None, data_dir=data_dir))


@pytest.fixture
def hub_app(tmp_path: Path, api: FakeBotAPI) -> Iterator[App]:
    app = make_app(tmp_path / "data", api.url)
    ensure_demo(app.hub)
    yield app
    app.close()


def quick_flood() -> FloodControl:
    """Telegram's rules, but fast enough for a test suite."""
    return FloodControl(overall=(200, 1.0), per_chat=(50, 1.0))


@pytest.fixture
def start_bot() -> Iterator[Callable[..., TelegramFrontEnd]]:
    """``start_bot(app)`` → a running Telegram front end on the fake server."""
    running: list[TelegramFrontEnd] = []

    def start(app: App, **kwargs: Any) -> TelegramFrontEnd:
        kwargs.setdefault("poll_timeout", 2.0)
        kwargs.setdefault("flood", quick_flood())
        kwargs.setdefault("start_wait", 15.0)
        frontend = local(app, Engine(app.hub, all_conversations()), **kwargs)
        running.append(frontend)
        frontend.start()
        return frontend

    yield start
    for frontend in reversed(running):
        frontend.stop()


@pytest.fixture
def bot(hub_app: App, start_bot: Callable[..., TelegramFrontEnd]) -> TelegramFrontEnd:
    return start_bot(hub_app)


@pytest.fixture
def user_factory(api: FakeBotAPI, bot: TelegramFrontEnd) -> Callable[[int, str], TgUser]:
    def make(user_id: int, name: str) -> TgUser:
        return TgUser(api, bot, user_id, name)

    return make


def emailed_code(app: App, email: str) -> str:
    """The 6-digit code in the latest link-code email to ``email``."""
    codes = [e for e in all_emails(app.store) if e.to_email == email and e.kind == "link code"]
    assert codes, f"no link code was emailed to {email}"
    latest = max(codes, key=lambda e: e.created_at)
    found = re.search(r"\b(\d{6})\b", latest.text)
    assert found is not None
    return found.group(1)


@pytest.fixture
def code_for(hub_app: App) -> Callable[[str], str]:
    return lambda email: emailed_code(hub_app, email)


def link(user: TgUser, app: App, email: str) -> Out:
    out = user.send(f"/link {email}")
    assert "6-digit code is on its way" in out.text
    return user.send(emailed_code(app, email))


@pytest.fixture
def linked(
    hub_app: App, user_factory: Callable[[int, str], TgUser]
) -> Callable[[int, str, str], TgUser]:
    """``linked(user_id, name, email)`` → a user whose chat is linked."""

    def make(user_id: int, name: str, email: str) -> TgUser:
        user = user_factory(user_id, name)
        out = link(user, hub_app, email)
        assert "This chat is now linked" in out.text, out.text
        return user

    return make
