"""Typing "yes" or "confirm" at a summary counts as its Confirm button, but
never at a destructive one: deleting takes its own words, and its last check
names the account (SPEC: "Deleting asks once more, naming the account")."""

from __future__ import annotations

from handlers.engine import Engine
from hub import Actor

from .conftest import ADMIN, COORDINATOR, FARID, GRACE


def test_yes_confirms_a_suspend(demo) -> None:  # type: ignore[no-untyped-def]
    chat = demo.chat()
    chat.say(f"suspend {GRACE}")
    chat.say("yes")
    assert chat.has("is suspended")
    assert not demo.account(GRACE).active


def test_yes_never_deletes(demo) -> None:  # type: ignore[no-untyped-def]
    actor = Actor(demo.account(COORDINATOR).account_id, "test")
    farid, amira = demo.account(FARID), demo.account(ADMIN)
    for site in ("primary", "lower-secondary"):
        demo.hub.transfer(actor, farid.account_id, site, amira.account_id)
    chat = demo.chat()
    with demo.unchanged():
        chat.say(f"delete {FARID}")
        assert chat.has("Delete Farid Nasser")
        chat.say("yes")
        assert chat.has("Please press Delete")
        chat.say("delete")  # the button's own label goes on to the last check
        assert chat.has("Last check")
        chat.say("y")
        assert chat.has("Please press Yes, delete Farid Nasser")
    chat.say("Yes, delete Farid Nasser")
    assert chat.has("was deleted")
    assert demo.hub.account_by_email(FARID) is None


def test_a_restarted_console_is_shown_the_question_it_was_asked(demo) -> None:  # type: ignore[no-untyped-def]
    chat = demo.chat()
    chat.say("add Jane Smith")
    again = Engine(demo.hub, demo.engine.conversations)  # as after a restart
    waiting = again.pending(chat.person)
    assert waiting is not None and "email address" in waiting.text
