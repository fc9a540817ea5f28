"""Shared fixtures: a real TinyDB store in ``tmp_path``, a hub on it with a
clock the test moves, a centre with one account of every kind, a second
centre, and a real SMTP server (aiosmtpd) on loopback.

Nothing of our own is mocked: tests drive the real hub over the real store.
"""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from hub import Account, Actor, Hub, NewAccount
from hub import schema as hub_schema
from hub.progression import DataRow
from hub.schema import INDEXES, OUTBOX, TOKENS, migrate
from hub.tokens import digest
from storage.tinydb_store import TinyDBStore

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Every table the hub writes, plus the store's own: enough to compare a whole
# store before and after a refused change.
TABLES = sorted(
    {v for k, v in vars(hub_schema).items() if k.isupper() and isinstance(v, str)} | {"_meta"}
)


class Clock:
    """A clock the test moves by hand; pass ``clock`` to :class:`Hub`."""

    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


def open_store(data_dir: Path, **kwargs: Any) -> TinyDBStore:
    store = TinyDBStore(data_dir, INDEXES, **kwargs)
    migrate(store)
    return store


def store_contents(store: Any) -> dict[str, dict[str, Any]]:
    """Every document of every table, by key: compare two of these to prove
    that a refused change left the store exactly as it was."""
    return {
        table: {doc["_key"]: doc for doc in store.scan(table)}
        for table in TABLES
        if store.count(table)
    }


@pytest.fixture
def contents() -> Callable[[Any], dict[str, dict[str, Any]]]:
    return store_contents


@pytest.fixture
def reopen() -> Callable[..., TinyDBStore]:
    """Open (again) the store of a data directory, as a restarted bot would."""
    return open_store


@pytest.fixture
def unchanged(store: TinyDBStore, data_dir: Path) -> Callable[[], AbstractContextManager[None]]:
    """``with unchanged(), pytest.raises(...)``: the store's documents are the
    same afterwards and not even an empty change reached the journal."""

    @contextmanager
    def check() -> Iterator[None]:
        journal = data_dir / "hub.journal"
        before, size = store_contents(store), journal.stat().st_size
        yield
        assert store_contents(store) == before
        assert journal.stat().st_size == size

    return check


def usable_token(store: Any, email: str) -> str:
    """The raw token of the one unused link emailed to ``email`` (read from
    the outbox, as the recipient would from the email)."""
    found = []
    for doc in store.scan(OUTBOX):
        if doc["to_email"] != email:
            continue
        for raw in re.findall(r"token=([A-Za-z0-9_\-]+)", doc["text"]):
            token = store.get(TOKENS, digest(raw))
            if token is not None and not token.get("used_at"):
                found.append(raw)
    assert len(found) == 1, f"{len(found)} usable links emailed to {email}"
    return found[0]


@pytest.fixture
def link_token() -> Callable[[Any, str], str]:
    return usable_token


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path) -> Iterator[TinyDBStore]:
    s = open_store(data_dir)
    yield s
    s.close()


@pytest.fixture
def hub(store: TinyDBStore, clock: Clock) -> Hub:
    return Hub(store, public_url="https://hub.example.org", clock=clock)


@dataclass
class World:
    """A centre with one account of every kind, for permission tests."""

    hub: Hub
    centre_id: str
    coordinator: Account
    admin: Account
    admin2: Account
    teacher: Account
    teacher2: Account
    suspended: Account
    accounts: dict[str, Account] = field(default_factory=dict)

    def actor(self, who: Account | str) -> Actor:
        account = who if isinstance(who, Account) else getattr(self, who)
        return Actor(account.account_id, "test")

    def fresh(self, who: Account | str) -> Account:
        account = who if isinstance(who, Account) else getattr(self, who)
        found = self.hub.account(account.account_id)
        assert found is not None
        return found


@dataclass
class Other:
    centre_id: str
    coordinator: Account
    teacher: Account


def make_centre(hub: Hub) -> World:
    _, coordinator = hub.create_centre(
        "GB001", "Riverside School", "Cora Coordinator", "cora@riverside.school"
    )
    actor = Actor(coordinator.account_id, "test")
    created = hub.add_accounts(
        actor,
        [
            NewAccount("Ada Admin", "ada@riverside.school", True, ("primary", "lower-secondary")),
            NewAccount("Abe Admin", "abe@riverside.school", True, ("primary",)),
            NewAccount("Tess Teacher", "tess@riverside.school", False, ("primary",)),
            NewAccount(
                "Tom Teacher", "tom@riverside.school", False, ("primary", "lower-secondary")
            ),
            NewAccount("Sam Suspended", "sam@riverside.school", False, ("primary",)),
        ],
    ).created
    assert len(created) == 5
    admin, admin2, teacher, teacher2, suspended = created
    hub.suspend(actor, suspended.account_id)
    problems = hub.import_data(
        "GB001",
        [
            DataRow("tess@riverside.school", "primary", "Stage 4 English", "4B"),
            DataRow("tess@riverside.school", "primary", "Stage 4 Maths", "4B"),
            DataRow("tom@riverside.school", "lower-secondary", "Stage 8 Science", "8A"),
            DataRow("sam@riverside.school", "primary", "Stage 5 Maths", "5C"),
        ],
    )
    assert problems == []
    world = World(
        hub,
        "GB001",
        coordinator,
        admin,
        admin2,
        teacher,
        teacher2,
        hub.account(suspended.account_id),  # type: ignore[arg-type]
    )
    world.accounts = {a.email: a for a in [coordinator, *created]}
    return world


@pytest.fixture
def centre(hub: Hub) -> World:
    return make_centre(hub)


@pytest.fixture
def other_centre(hub: Hub, centre: World) -> Other:
    _, coordinator = hub.create_centre(
        "FR002", "Lycée de la Colline", "Olga Autre", "olga@colline.school"
    )
    teacher = hub.add_accounts(
        Actor(coordinator.account_id, "test"),
        [NewAccount("Otto Autre", "otto@colline.school", False, ("primary",))],
    ).created[0]
    hub.import_data("FR002", [DataRow("otto@colline.school", "primary", "Stage 3 Maths")])
    return Other("FR002", coordinator, teacher)


# ------------------------------------------------------------------- SMTP
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collect:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.server.reject:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.server.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on a loopback port that can be stopped and started
    again on the same port, to play a server that goes down and comes back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[str, list[str], bytes]] = []
        self.reject: set[str] = set()  # recipients refused with 550
        self.smtputf8 = True  # offer SMTPUTF8 (RFC 6531) when started
        self._controller: Controller | None = None

    def start(self) -> None:
        # decode_data=False keeps the raw bytes, so header checks see the wire.
        self._controller = Controller(
            _Collect(self),
            hostname="127.0.0.1",
            port=self.port,
            ready_timeout=5,
            enable_SMTPUTF8=self.smtputf8,
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Not started: call ``start()`` (tests of a server that is down need that)."""
    server = SmtpServer()
    yield server
    server.stop()
