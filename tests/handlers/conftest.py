"""Conversations at engine level: a real TinyDB store in ``tmp_path``, the demo
centre on it (hub/demo.py), the real engine with every conversation, and a
small driver that types text and presses buttons by label as a person would.

The store, hub and clock fixtures come from ``tests/conftest.py``; the clock
is moved by hand, so nothing here waits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from handlers.conversations import all_conversations
from handlers.engine import STATES, Engine
from handlers.replies import Button, Command, Input, Person, Press, Reply, Text, Tick, Upload
from hub import Account, Actor, Hub, HubError, NewAccount
from hub import schema as hub_schema
from hub.demo import DEMO_COORDINATOR, ensure_demo

DEMO = "demo.school"
COORDINATOR = DEMO_COORDINATOR
ADMIN = "amira.haddad@demo.school"  # primary, lower-secondary, test-maker
ADMIN2 = "ben.okafor@demo.school"  # lower-secondary, results-analysis
TEACHER = "chloe.martin@demo.school"  # primary, resource-plus; 2 records on primary
DEV = "dev.patel@demo.school"  # primary, forums; 1 record on primary
EUNJI = "eunji.park@demo.school"  # lower-secondary; 1 record on lower-secondary
FARID = "farid.nasser@demo.school"  # suspended 10 days; 1 record on each data site
GRACE = "grace.mensah@demo.school"  # primary; no data


# Every table the hub writes (accounts, data, tokens, outbox, audit, links...),
# but not the engine's own conversation state.
HUB_TABLES = sorted(
    {v for k, v in vars(hub_schema).items() if k.isupper() and isinstance(v, str)} - {STATES}
)


def snapshot(store: Any) -> str:
    """Every hub table as one JSON text: equal before and after means nothing
    of the hub changed (the conversation's own state may have)."""
    return json.dumps(
        {t: {d["_key"]: d for d in store.scan(t)} for t in HUB_TABLES},
        sort_keys=True,
        default=str,
    )


class Chat:
    """One person talking to the engine. ``last`` holds the replies to the
    latest input; ``press`` finds a button (or tick box) in them by label."""

    def __init__(self, engine: Engine, person: Person) -> None:
        self.engine = engine
        self.person = person
        self.last: list[Reply] = []
        self.history: list[list[Reply]] = []

    # ------------------------------------------------------------- inputs
    def send(self, event: Input) -> list[Reply]:
        self.last = self.engine.handle(self.person, event)
        self.history.append(self.last)
        assert self.last, f"no reply to {event!r}"
        return self.last

    def say(self, text: str) -> list[Reply]:
        return self.send(Text(text))

    def command(self, name: str, args: str = "") -> list[Reply]:
        return self.send(Command(name, args))

    def upload(self, filename: str, data: bytes) -> list[Reply]:
        return self.send(Upload(filename, data, "text/csv"))

    def press(self, label: str) -> list[Reply]:
        return self.send(Press(self.token(label)))

    def token(self, label: str) -> str:
        return self.find(label).token

    def find(self, label: str) -> Button | Tick:
        """The button whose label is ``label`` or starts with it."""
        items = [i for r in self.last for i in r.all_buttons()]
        for item in items:
            if item.label == label:
                return item
        starts = [i for i in items if i.label.startswith(label)]
        assert len(starts) == 1, f"no single button {label!r} in {self.labels}"
        return starts[0]

    # ------------------------------------------------------------ reading
    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.last)

    @property
    def labels(self) -> list[str]:
        return [i.label for r in self.last for i in r.all_buttons()]

    @property
    def buttons(self) -> list[str]:
        return [b.label for r in self.last for b in r.buttons]

    @property
    def ticks(self) -> dict[str, bool]:
        return {t.label: t.ticked for r in self.last for t in r.ticks}

    @property
    def final(self) -> bool:
        return bool(self.last) and self.last[-1].final

    @property
    def state(self) -> dict[str, Any] | None:
        return self.engine.store.get(STATES, self.person.key)

    def has(self, *fragments: str) -> bool:
        return all(f in self.text for f in fragments)


@dataclass
class Demo:
    """The demo centre, its engine, and a chat for anyone in it."""

    hub: Hub
    engine: Engine
    clock: Any

    def account(self, email: str) -> Account:
        found = self.hub.account_by_email(email)
        assert found is not None, email
        return found

    def chat(self, email: str = COORDINATOR, frontend: str = "console") -> Chat:
        account = self.account(email)
        return Chat(self.engine, Person(frontend, f"chat-{email}", account.account_id))

    def snapshot(self) -> str:
        return snapshot(self.hub.store)

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """The hub's documents (not the conversation state) are the same after."""
        before = self.snapshot()
        yield
        assert self.snapshot() == before

    def audit_count(self) -> int:
        return self.hub.store.count("audit")

    def outbox(self, to: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            d
            for d in self.hub.store.scan("outbox")
            if (to is None or d["to_email"] == to) and (kind is None or d["kind"] == kind)
        ]

    def set_password(self, email: str, password: str = "Plum-Kettle-Orbit-42!") -> None:
        """Use the link emailed to ``email`` that still works, as its owner would."""
        for doc in self.outbox(email):
            for raw in re.findall(r"token=([A-Za-z0-9_\-]+)", doc["text"]):
                try:
                    self.hub.set_password(raw, password)
                    return
                except HubError:
                    continue
        raise AssertionError(f"no usable link was emailed to {email}")

    def link_codes(self, email: str) -> list[str]:
        """The 6-digit link codes emailed to ``email``."""
        return [
            code
            for d in self.outbox(email, "link code")
            for code in re.findall(r"\b(\d{6})\b", d["text"])
        ]

    def add_teachers(self, n: int, prefix: str = "Zed") -> list[Account]:
        """``n`` more teachers (with primary access), added by the coordinator."""
        actor = Actor(self.account(COORDINATOR).account_id, "test")
        drafts = [
            NewAccount(
                f"{prefix} Teacher {i:02d}",
                f"{prefix.lower()}{i:02d}@demo.school",
                False,
                ("primary",),
            )
            for i in range(n)
        ]
        return self.hub.add_accounts(actor, drafts).created


@pytest.fixture
def demo(hub: Hub, clock: Any) -> Demo:
    ensure_demo(hub)
    return Demo(hub, Engine(hub, all_conversations()), clock)


@pytest.fixture
def coordinator(demo: Demo) -> Chat:
    return demo.chat(COORDINATOR)


@pytest.fixture
def admin(demo: Demo) -> Chat:
    return demo.chat(ADMIN)


@pytest.fixture
def teacher(demo: Demo) -> Chat:
    return demo.chat(TEACHER)


@pytest.fixture
def chat_for(demo: Demo) -> Callable[[str], Chat]:
    return demo.chat
