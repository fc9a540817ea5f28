"""Fixtures for the web page: a real TinyDB store in ``tmp_path`` opened the
way the bot opens it, a hub on it with a clock the test moves, a centre with
its coordinator, invitations delivered as real ``.eml`` files by the real
Mailer, and the real app served by uvicorn (WebServer) on loopback.
"""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import config as bot_config
from bot.app import App, open_app
from bot.config import Config
from bot.mailer import Mailer
from bot.web import WebServer, build_web_app
from hub import Account, Actor, Hub, NewAccount

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LINK = re.compile(r"(https?://\S+?)(/set-password\?token=([A-Za-z0-9_-]+))")
GOOD_PASSWORD = "violet harbour engine 42"


class Clock:
    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Link:
    url: str  # as in the email
    path: str  # /set-password?token=…
    token: str


def links_in_outbox(outbox: Path, to: str, kind: str = "") -> list[Link]:
    """The set-password links of the ``.eml`` files sent to ``to`` whose
    subject has ``kind``, read as a mail client would (plain-text part).
    Emails made at the same clock time come in no particular order."""
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if to not in str(message["To"]) or kind not in str(message["Subject"]).lower():
            continue
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        match = LINK.search(text)
        assert match, f"no set-password link in {path.name}"
        found.append(Link(match.group(0), match.group(2), match.group(3)))
    return found


@dataclass
class Site:
    """The hub behind the page, as the bot opens it, with a movable clock."""

    app: App
    hub: Hub
    clock: Clock
    config: Config
    coordinator: Account
    mailer: Mailer
    _accounts: dict[str, Account] = field(default_factory=dict)

    @property
    def outbox(self) -> Path:
        return self.config.data_dir / "outbox"

    def add_teacher(self, name: str = "Tess Teacher", address: str = "tess@riverside.school"):  # type: ignore[no-untyped-def]
        created = self.hub.add_accounts(
            Actor(self.coordinator.account_id, "test"),
            [NewAccount(name, address, False, ("primary",))],
        )
        assert created.created, created.refused
        self._accounts[address] = created.created[0]
        return created.created[0]

    def deliver(self) -> None:
        _, failed = self.mailer.deliver_due()
        assert failed == 0

    def invite(self, name: str = "Tess Teacher", address: str = "tess@riverside.school") -> Link:
        """Add a teacher and return the link from the invitation email."""
        self.add_teacher(name, address)
        self.deliver()
        return links_in_outbox(self.outbox, address, "account")[-1]

    def account(self, address: str) -> Account:
        found = self.hub.account_by_email(address)
        assert found is not None
        return found


def make_config(data_dir: Path, port: int, **extra: Any) -> Config:
    return bot_config.load(
        environ={},
        env_file=None,
        data_dir=data_dir,
        http_host="127.0.0.1",
        http_port=port,
        public_url=f"http://127.0.0.1:{port}",
        **extra,
    )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    config = make_config(tmp_path / "data", free_port())
    app = open_app(config)
    clock = Clock()
    hub = Hub(app.store, public_url=config.public_url, clock=clock)
    _, coordinator = hub.create_centre(
        "GB001", "Riverside School", "Cora Coordinator", "cora@riverside.school"
    )
    yield Site(app, hub, clock, config, coordinator, Mailer(app.store, config, clock=clock))
    app.close()


class Served:
    """A running WebServer and an HTTP client on it."""

    def __init__(self, server: WebServer, client: httpx.Client) -> None:
        self.server = server
        self.client = client

    def form(self, link: Link) -> dict[str, str]:
        """Open the link and return the form's hidden fields (the browser
        keeps the CSRF cookie in the client's jar)."""
        response = self.client.get(link.path)
        assert response.status_code == 200, response.text
        return dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', response.text))

    def submit(self, link: Link, password: str, confirm: str | None = None) -> httpx.Response:
        fields = self.form(link)
        return self.client.post(
            "/set-password",
            data={
                **fields,
                "password": password,
                "confirm": password if confirm is None else confirm,
            },
        )


@pytest.fixture
def serve(site: Site) -> Iterator[Callable[..., Served]]:
    """``serve(**build_web_app options)``: the app under uvicorn on the
    site's port (the one in the links); stopped after the test."""
    running: list[Served] = []

    def start(**options: Any) -> Served:
        server = WebServer(site.config, build_web_app(site.hub, **options))
        server.start()
        client = httpx.Client(base_url=server.url, timeout=10)
        running.append(Served(server, client))
        return running[-1]

    yield start
    for served in running:
        served.client.close()
        served.server.stop()


@pytest.fixture
def web(serve: Callable[..., Served]) -> Served:
    return serve()
