"""Hostile input typed into every question of every conversation: markup of
every platform, very long text, empty lines, right-to-left and combining
Unicode, emoji, control characters, numbers that name no button.

Whatever is typed: no traceback (nothing logged as a bug, never the "went
wrong on our side" sentence), a reply that says something, nothing changed
in the hub, a reply of reasonable length (what was typed is not echoed back
ten thousand characters long), and the conversation either still asking or
cleanly ended.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from handlers.conversations import all_conversations
from handlers.engine import BROKEN, Engine
from handlers.replies import Person, Press, Text
from hub import Actor, Hub
from hub.demo import ensure_demo
from hub.schema import INDEXES, migrate
from storage.tinydb_store import TinyDBStore

HOSTILE = [
    "<b>bold</b> <i>it</i> </pre>",
    "*x* _y_ ~z~ `code` ```block``` ||spoiler||",
    "<!channel> <!here> @channel @everyone <@U012AB3CD> <#C012>",
    "&amp; &lt;script&gt;alert(1)&lt;/script&gt; &#x27; &nbsp;",
    "<a href='http://evil.example'>click</a> [x](http://evil.example) <http://evil.example|x>",
    "A" * 10_000,
    "jane" + "@" * 5_000 + "school.org",
    "",
    "   \t   ",
    "\n\n\n",
    "line one\nline two\r\nline three",
    "\u202eevil.exe\u202c \u2067isolate\u2069",
    "مرحبا بالعالم שלום",
    "👩‍🏫🎉 Zoë 🏳️‍🌈",
    "e\u0301\u0301\u0301\u0301 Z̴̡̪͎a̷l̸g̵o̶",
    "\x00\x1b[31mred\x1b[0m\x07\x08\x7f",
    "99",
    "0",
    "-1",
    "'; DROP TABLE accounts; -- {name} %s ${x}",
]

# question id -> (who, how to reach the question); "say"/"press" steps. A
# "{}" in the last step puts the hostile text into the command's argument.
COORD = "coordinator@demo.school"
TEACHER = "chloe.martin@demo.school"
QUESTIONS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "start": (COORD, [("say", "{}")]),
    "help": (COORD, [("say", "help")]),
    "add-arg": (COORD, [("say", "add {}")]),
    "add-name": (COORD, [("say", "add")]),
    "add-email": (COORD, [("say", "add Jane Smith")]),
    "add-admin": (COORD, [("say", "add Jane Smith jane@school.org")]),
    "add-sites": (COORD, [("say", "add Jane Smith jane@school.org"), ("press", "No")]),
    "add-more": (
        COORD,
        [("say", "add Jane Smith jane@school.org"), ("press", "No"), ("press", "Done")],
    ),
    "add-confirm": (
        COORD,
        [
            ("say", "add Jane Smith jane@school.org"),
            ("press", "No"),
            ("press", "Done"),
            ("press", "Review and confirm"),
        ],
    ),
    "import-rows": (COORD, [("say", "import")]),
    "import-confirm": (COORD, [("say", "import"), ("say", "Jane Smith, jane@school.org")]),
    "find-arg": (COORD, [("say", "find {}")]),
    "find-query": (COORD, [("say", "find")]),
    "find-results": (COORD, [("say", "find a")]),
    "users-results": (COORD, [("say", "users")]),
    "show-arg": (COORD, [("say", "show {}")]),
    "show-account": (COORD, [("say", "show")]),
    "show-action": (COORD, [("say", "show grace.mensah@demo.school")]),
    "edit-account": (COORD, [("say", "edit")]),
    "edit-field": (COORD, [("say", "edit dev")]),
    "edit-name": (COORD, [("say", "edit dev"), ("press", "Name")]),
    "edit-email": (COORD, [("say", "edit dev"), ("press", "Email")]),
    "edit-sites": (COORD, [("say", "edit dev"), ("press", "Sites")]),
    "edit-confirm": (
        COORD,
        [("say", "edit dev"), ("press", "Name"), ("say", "Devan"), ("press", "Review")],
    ),
    "admin-account": (COORD, [("say", "admin")]),
    "admin-confirm": (COORD, [("say", "admin grace")]),
    "unadmin-account": (COORD, [("say", "unadmin")]),
    "unadmin-confirm": (COORD, [("say", "unadmin ben")]),
    "suspend-arg": (COORD, [("say", "suspend {}")]),
    "suspend-account": (COORD, [("say", "suspend")]),
    "suspend-confirm": (COORD, [("say", "suspend grace")]),
    "restore-account": (COORD, [("say", "restore")]),
    "restore-confirm": (COORD, [("say", "restore farid")]),
    "transfer-account": (COORD, [("say", "transfer")]),
    "transfer-site": (COORD, [("say", "transfer farid")]),
    "transfer-target": (COORD, [("say", "transfer farid"), ("press", "Cambridge Primary")]),
    "transfer-confirm": (
        COORD,
        [("say", "transfer farid"), ("press", "Cambridge Primary"), ("press", "Dev Patel")],
    ),
    "transfer-more": (
        COORD,
        [
            ("say", "transfer farid"),
            ("press", "Cambridge Primary"),
            ("press", "Dev Patel"),
            ("press", "Transfer"),
        ],
    ),
    "delete-account": (COORD, [("say", "delete")]),
    "delete-active": (COORD, [("say", "delete grace")]),
    "delete-held": (COORD, [("say", "delete farid")]),
    "delete-sure": (COORD, [("suspend", "grace.mensah@demo.school"), ("say", "delete grace")]),
    "delete-really": (
        COORD,
        [("suspend", "grace.mensah@demo.school"), ("say", "delete grace"), ("press", "Delete")],
    ),
    "reset-account": (COORD, [("say", "reset")]),
    "reset-confirm": (COORD, [("say", "reset grace")]),
    "reset-teacher": (TEACHER, [("say", "reset {}")]),
    "snooze-account": (COORD, [("say", "snooze")]),
    "snooze-confirm": (COORD, [("say", "snooze farid")]),
    "audit-page": (COORD, [("say", "audit")]),
    "me-action": (TEACHER, [("say", "me")]),
    "teacher-start": (TEACHER, [("say", "{}")]),
    "link-email": ("telegram", [("say", "link")]),
    "link-code": ("telegram", [("say", "link grace.mensah@demo.school")]),
    "verify-code": ("telegram", [("say", "verify")]),
    "unlink-confirm": ("telegram-linked", [("say", "unlink")]),
}
# Linking writes a code record (a decoy for an unknown address) on purpose.
WRITES = {"link-email": {"link_codes", "outbox"}, "start": set()}
MAX_REPLY = 3_000


class Session:
    def __init__(self, data_dir: Path, who: str) -> None:
        self.store = TinyDBStore(data_dir, INDEXES)
        migrate(self.store)
        self.hub = Hub(self.store)
        ensure_demo(self.hub)
        self.engine = Engine(self.hub, all_conversations())
        self.coordinator = Actor(self.hub.account_by_email(COORD).account_id, "t")
        if who == "telegram":
            self.person = Person("telegram", "31337", None)
        elif who == "telegram-linked":
            grace = self.hub.account_by_email("grace.mensah@demo.school")
            self.hub.remember_chat("telegram", "31337", grace.account_id)
            self.person = Person("telegram", "31337", grace.account_id)
        else:
            account = self.hub.account_by_email(who)
            self.person = Person("console", "hostile", account.account_id)
        self.last: list = []  # type: ignore[type-arg]

    def send(self, text: str) -> str:
        self.last = self.engine.handle(self.person, Text(text))
        assert self.last
        return "\n".join(r.text for r in self.last)

    def press(self, label: str) -> None:
        found = [i.token for r in self.last for i in r.all_buttons() if i.label.startswith(label)]
        assert found, f"no {label!r}"
        self.last = self.engine.handle(self.person, Press(found[0]))

    def tables(self, skip: set[str]) -> dict[str, dict]:  # type: ignore[type-arg]
        names = {"accounts", "audit", "centres", "chat_links", "link_codes", "outbox"}
        names |= {"progression_data", "tokens", "digests"}
        return {t: {d["_key"]: d for d in self.store.scan(t)} for t in names - skip}

    def state(self):  # type: ignore[no-untyped-def]
        return self.store.get("conversations", self.person.key)


# Reaching these questions changes the hub first (a confirmed transfer), so
# each hostile input gets a store of its own; the others share one.
FRESH_EACH_TIME = {"transfer-more"}


@pytest.mark.parametrize("question", list(QUESTIONS))
def test_hostile_input_at_every_question(tmp_path, caplog, question) -> None:  # type: ignore[no-untyped-def]
    who, path = QUESTIONS[question]
    caplog.set_level(logging.ERROR)
    skip = WRITES.get(question, set())
    setup = [(how, what) for how, what in path if how == "suspend"]
    walk = [(how, what) for how, what in path if how != "suspend"]
    last_what = walk[-1][1]
    if "{}" in last_what:
        walk = walk[:-1]
    session: Session | None = None
    try:
        for n, hostile in enumerate(HOSTILE):
            if session is None or question in FRESH_EACH_TIME:
                if session is not None:
                    session.store.close()
                session = Session(tmp_path / f"s{n}", who)
                for _, email in setup:
                    account = session.hub.account_by_email(email)
                    session.hub.suspend(session.coordinator, account.account_id)
            for how, what in walk:
                if how == "say":
                    session.send(what)
                else:
                    session.press(what)
            before = session.tables(skip)
            typed = last_what.format(hostile) if "{}" in last_what else hostile
            said = session.send(typed)
            where = f"{question}: {hostile[:30]!r}"
            assert BROKEN not in said, where
            assert said.strip() or any(r.buttons for r in session.last), where
            assert len(said) <= MAX_REPLY, f"{where}: a reply of {len(said)} characters"
            assert session.tables(skip) == before, where
            if session.state() is not None:
                assert "Cancelled" in session.send("cancel"), where
            assert session.tables(skip) == before, where
    finally:
        if session is not None:
            session.store.close()
    bugs = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bugs, [r.getMessage() for r in bugs]


def test_hostile_csv_uploads(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    files = {
        "binary.csv": bytes(range(256)) * 4,
        "nul.csv": b"name,email\nJane\x00,jane@school.org\n",
        "latin1.csv": "name,email\nJos\xe9,jose@school.org\n".encode("latin-1"),
        "formula.csv": b'name,email,admin,sites\n=HYPERLINK("x"),f@school.org,no,\n',
        "quotes.csv": b'name,email\n"Unclosed,jane@school.org\n',
        "wide.csv": b"name,email\n" + b"x," * 5000 + b"\n",
        "long.csv": b"name,email\n" + b"A" * 10_000 + b",a@school.org\n",
        "empty.csv": b"",
        "bom-only.csv": b"\xef\xbb\xbf",
        "markup.csv": b"name,email\n<b>Jane</b> <!channel>,jane@school.org\n",
        "rtl.csv": "name,email\n\u202eevil,evil@school.org\n".encode(),
        "rows.csv": b"name,email\n"
        + b"".join(b"P%d,p%d@school.org\n" % (i, i) for i in range(5001)),
    }
    for filename, data in files.items():
        before = demo.snapshot()
        coordinator.say("import")
        coordinator.upload(filename, data)
        assert BROKEN not in coordinator.text, filename
        assert coordinator.text.strip(), filename
        assert demo.snapshot() == before, filename
        coordinator.say("cancel")
        assert demo.snapshot() == before, filename
