"""Hostile input driving the conversation engine (hypothesis).

The real engine with every conversation, over a real TinyDB store holding the
demo centre (a fresh copy per example), is fed random sequences of what a
person on any front end could send: typed text (any Unicode, control
characters, markup, very long), commands with odd arguments, button presses
with random tokens, with tokens from the latest replies and from older ones,
typed button labels, and files of random bytes under random names. Five
people take turns: the coordinator, an admin, a teacher, a chat linked to no
one, and a suspended account.

After every input:
- no exception escapes and no reply is the engine's "something went wrong"
  (a bug caught at the last moment), nor shows a traceback;
- every reply renders for the console and for Telegram (64-byte callback
  data, 4096-character messages);
- accounts, Progression Test data, tokens and emails are unchanged unless
  the input was a Confirm: a press of (or the typed label of) a button whose
  value is ``confirm`` in the conversation waiting for it (or, at that
  summary, "confirm" / "yes" typed, which the engine takes as its press). The one
  exception by design: ``link`` emails a code (and stores it) without one.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from bot.console import ConsoleRenderer
from bot.telegram import render as telegram
from handlers.conversation import CONFIRM
from handlers.conversations import all_conversations
from handlers.engine import BROKEN, CONFIRM_WORDS, STATES, Engine
from handlers.replies import Command, Input, Person, Press, Reply, Text, Upload
from hub import Hub
from hub.demo import DEMO_COORDINATOR
from hub.schema import ACCOUNTS, CENTRES, DATA, OUTBOX, TOKENS

from .conftest import open_store

WATCHED = (ACCOUNTS, CENTRES, DATA, TOKENS, OUTBOX)
PEOPLE = {
    "coordinator": ("console", DEMO_COORDINATOR),
    "admin": ("slack", "amira.haddad@demo.school"),
    "teacher": ("telegram", "chloe.martin@demo.school"),
    "stranger": ("telegram", None),
    "suspended": ("console", "farid.nasser@demo.school"),
}
WORDS = [
    "help", "add", "new", "invite", "import", "find", "users", "show", "edit", "admin",
    "unadmin", "suspend", "restore", "delete", "transfer", "reset", "audit", "me", "link",
    "verify", "unlink", "snooze", "cancel", "stop", "start", "menu", "next", "done",
]  # fmt: skip
EMAILS = [
    DEMO_COORDINATOR, "amira.haddad@demo.school", "ben.okafor@demo.school",
    "chloe.martin@demo.school", "dev.patel@demo.school", "eunji.park@demo.school",
    "farid.nasser@demo.school", "grace.mensah@demo.school", "nobody@demo.school",
    "CHLOE.MARTIN@DEMO.SCHOOL", "x@y", "@", "a@b.c\r\nBcc: evil@example.org",
]  # fmt: skip
MARKUP = [
    "<b>bold</b>", "*bold* _it_ ~s~ `code`", "<!channel> @channel @here <!everyone>",
    "[click](https://evil.example)", "<https://evil.example|click>", "&amp; &lt; &#x3c; &bogus;",
    "<script>alert(1)</script>", "\x1b[31mred\x1b[0m\r\noverwrite", "Robert'); DROP TABLE--",
    "=cmd|' /C calc'!A0", "{{7*7}} ${jndi:ldap://x}", "‮evil‭", "👨‍👩‍👧‍👦" * 20, "\x00\x07\x7f",
]  # fmt: skip

any_text = st.text(st.characters(codec=None), max_size=60)  # control chars, no surrogates
odd_text = st.text(st.characters(), max_size=40)  # may hold lone surrogates too
long_text = st.builds(
    lambda s, n: (s * n)[:20_000], st.text(min_size=1, max_size=12), st.integers(50, 3000)
)
argument = st.one_of(st.sampled_from(EMAILS), any_text, st.sampled_from(MARKUP), st.just(""))
typed = st.one_of(
    any_text,
    st.sampled_from(MARKUP),
    long_text,
    st.builds(lambda w, a: f"{w} {a}", st.sampled_from(WORDS), argument),
    st.sampled_from([*WORDS, "1", "2", "0", "99", "yes", "no", "Done", "Confirm", "Cancel"]),
    st.sampled_from(EMAILS),
    odd_text,
)
csv_rows = st.lists(
    st.lists(st.one_of(argument, st.sampled_from(["yes", "no", "primary", "hub;forums"]))),
    max_size=8,
)


def _csv(rows: list[list[str]], encoding: str) -> bytes:
    lines = [",".join(row) for row in [["name", "email", "admin", "sites"], *rows]]
    return "\n".join(lines).encode(encoding, errors="replace")


file_bytes = st.one_of(
    st.binary(max_size=3000),
    st.builds(_csv, csv_rows, st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-8-sig"])),
)
filenames = st.one_of(
    st.sampled_from(["users.csv", "../../etc/passwd", "a.exe", "", "x.CSV", "data.csv.zip"]),
    any_text,
)


# Answers a person gets right: they take conversations deep, to their Confirm.
sensible = st.sampled_from(
    [
        *EMAILS[:9], "Zoe Quinn", "zoe.quinn@demo.school", "new.one@demo.school", "grace",
        "Chlo", "primary", "primary, forums", "lower-secondary", "yes", "no", "1", "2",
        "Stage 4", "Zoë Ünïcode", "o'brien@demo.school",
    ]
)  # fmt: skip
PROFILES = {
    # Mostly noise: random text, random and stale buttons, odd files.
    "hostile": {
        "press-shown": 4, "label-shown": 1, "sensible": 1, "text": 5, "command": 2,
        "press-old": 1, "press-random": 2, "upload": 2,
    },
    # Mostly what a person would do, with noise between: reaches every Confirm.
    "deep": {
        "press-shown": 8, "label-shown": 2, "sensible": 4, "text": 1, "command": 3,
        "press-old": 1, "press-random": 1, "upload": 1,
    },
}  # fmt: skip


def draw_input(data: st.DataObject, profile: str, last: list[Reply], seen: list[str]) -> Input:
    shown = [item for reply in last for item in reply.all_buttons()]
    weights = PROFILES[profile]
    kinds = [k for k, n in weights.items() for _ in range(n)]
    kind = data.draw(st.sampled_from(kinds), label="kind")
    if kind == "press-shown" and shown:
        onward = [i for i in shown if getattr(i, "kind", "") != "cancel"]
        if profile == "deep" and onward and data.draw(st.integers(0, 4)):
            shown = onward  # mostly forward, towards the Confirm
        return Press(data.draw(st.sampled_from(shown)).token)
    if kind == "label-shown" and shown:
        return Text(data.draw(st.sampled_from(shown)).label)
    if kind == "press-old" and seen:
        return Press(data.draw(st.sampled_from(seen)))
    if kind == "press-random":
        return Press(data.draw(st.one_of(st.text(max_size=70), st.from_regex(r"[cl][\w-]{0,14}"))))
    if kind == "upload":
        return Upload(
            data.draw(filenames),
            data.draw(file_bytes),
            data.draw(st.sampled_from(["text/csv", "", "application/octet-stream"])),
        )
    if kind == "command":
        name = data.draw(st.one_of(st.sampled_from(WORDS), any_text))
        args = data.draw(st.one_of(sensible, argument))
        return Command(name, args)
    if kind == "sensible" or profile == "deep":
        if data.draw(st.booleans()):
            return Text(f"{data.draw(st.sampled_from(WORDS))} {data.draw(sensible)}")
        return Text(data.draw(sensible))
    return Text(data.draw(typed))


# ------------------------------------------------------------------ checks
def watched(store: Any) -> str:
    """The watched tables as one text; the emails ``link`` may send left out."""
    tables = {
        t: {
            d["_key"]: d
            for d in store.scan(t)
            if not (t == OUTBOX and d.get("kind") == "link code")
        }
        for t in WATCHED
    }
    return json.dumps(tables, sort_keys=True, default=str)


def is_confirm(store: Any, person: Person, event: Input) -> bool:
    state = store.get(STATES, person.key)
    if state is None or not state.get("confirming"):
        return False
    tokens = {t for t, v in state.get("buttons", {}).items() if v == CONFIRM}
    if isinstance(event, Press):
        return event.token in tokens
    if isinstance(event, Text):  # the Confirm button's label typed, or "confirm" / "yes"
        labels = {state.get("labels", {}).get(t, "").casefold() for t in tokens}
        return event.text.strip().casefold() in labels | CONFIRM_WORDS
    return False


def check_rendering(replies: list[Reply]) -> None:
    console = ConsoleRenderer()
    for reply in replies:
        shown = console.render(reply)
        assert "Traceback" not in shown and 'File "' not in shown, shown
        for message in telegram.render(reply):
            assert telegram.size(message.text) <= telegram.MAX_TEXT


class _Bugs(logging.Handler):
    """Collects what the engine logs when a conversation step raised."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(self.format(record))


@pytest.fixture(scope="module")
def bugs() -> Any:
    handler = _Bugs()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("handlers.engine")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


_copies = itertools.count()


@pytest.mark.parametrize("profile", ["hostile", "deep"])
@settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_input_never_crashes_and_never_changes_without_a_confirm(
    profile: str, data: st.DataObject, demo_template: Path, tmp_path: Path, bugs: _Bugs
) -> None:
    copy = tmp_path / f"store{next(_copies)}"
    shutil.copytree(demo_template, copy)
    (copy / "hub.lock").unlink(missing_ok=True)
    store = open_store(copy)
    try:
        hub = Hub(store, public_url="https://hub.example.org")
        engine = Engine(hub, all_conversations())
        people = {}
        for who, (frontend, email) in PEOPLE.items():
            account = hub.account_by_email(email) if email else None
            account_id = account.account_id if account else None
            people[who] = Person(frontend, account_id or f"chat-{who}", account_id)
        last: dict[str, list[Reply]] = {who: [] for who in people}
        seen: list[str] = []
        for _ in range(data.draw(st.integers(1, 30), label="inputs")):
            who = data.draw(st.sampled_from(sorted(people)), label="who")
            person = people[who]
            event = draw_input(data, profile, last[who], seen)
            before = watched(store)
            confirm = is_confirm(store, person, event)
            bugs.records.clear()
            replies = engine.handle(person, event)
            assert not bugs.records, bugs.records[0]
            assert replies, f"no reply to {event!r}"
            for reply in replies:
                assert BROKEN not in reply.text, reply.text
                assert "Traceback" not in reply.text, reply.text
            check_rendering(replies)
            if not confirm:
                assert watched(store) == before, f"{who}: {event!r} changed the hub"
            elif watched(store) != before:
                note_event("a confirm changed the hub")
            state = store.get(STATES, person.key)
            if state is not None:
                note_event(f"reached {state['name']}/{state['step']}")
            last[who] = replies
            seen += [item.token for reply in replies for item in reply.all_buttons()]
    finally:
        store.close()
        shutil.rmtree(copy, ignore_errors=True)
