"""``cancel`` at every step of ``add``, ``delete`` and ``transfer`` ends the
conversation with nothing changed: every hub table (accounts, data, tokens,
outbox, audit, links) is the same as before, byte for byte.

Each path below is a whole conversation up to its Confirm; the tests cut it
after every step and cancel there, typed or by the Cancel button.
"""

from __future__ import annotations

import pytest

from handlers.replies import Command, Text
from hub import Actor

FARID = "farid.nasser@demo.school"
GRACE = "grace.mensah@demo.school"
CHLOE = "chloe.martin@demo.school"

# (how, what): "say" types text, "press" presses a button by label.
ADD = [
    ("say", "add"),
    ("say", "Jane Smith"),
    ("say", "jane@school.org"),
    ("press", "Yes, admin"),
    ("press", "Test Maker"),
    ("press", "Done"),
    ("press", "Add another"),
    ("say", "Kim Lee"),
    ("say", "kim@school.org"),
    ("say", "no"),
    ("press", "Cambridge Primary support site"),
    ("press", "Done"),
    ("press", "Review and confirm"),
]
ADD_ONE_LINE = [
    ("say", "add Jane Smith jane@school.org"),
    ("press", "No, a teacher"),
    ("press", "Done"),
    ("press", "Review and confirm"),
]
# Farid holds data on both sites: delete → transfer (site, target, confirm).
DELETE_WITH_DATA = [
    ("say", "delete"),
    ("say", FARID),
    ("press", "Transfer data first"),
    ("press", "Cambridge Primary support site (1)"),
    ("press", "Dev Patel"),
]
# Grace suspended, no data: delete → Delete → Yes, delete Grace Mensah.
DELETE_PLAIN = [
    ("say", f"delete {GRACE}"),
    ("press", "Delete"),
]
TRANSFER = [
    ("say", "transfer"),
    ("say", "farid"),
    ("press", "Cambridge Lower Secondary support site (1)"),
    ("press", "Eun-ji Park"),
]
TRANSFER_PAGED = [
    ("say", f"transfer {CHLOE}"),
    ("press", "Next"),
    ("press", "Previous"),
    ("press", "Dev Patel"),
]
PATHS = {
    "add": ADD,
    "add-one-line": ADD_ONE_LINE,
    "delete-with-data": DELETE_WITH_DATA,
    "delete": DELETE_PLAIN,
    "transfer": TRANSFER,
    "transfer-paged": TRANSFER_PAGED,
}
CUTS = [(name, n) for name, path in PATHS.items() for n in range(1, len(path) + 1)]


def prepare(demo, name: str) -> None:  # type: ignore[no-untyped-def]
    if name == "delete":
        coordinator = demo.account("coordinator@demo.school")
        demo.hub.suspend(Actor(coordinator.account_id, "t"), demo.account(GRACE).account_id)
    if name == "transfer-paged":
        demo.add_teachers(10)


def walk(chat, steps) -> None:  # type: ignore[no-untyped-def]
    for how, what in steps:
        if how == "say":
            chat.say(what)
        else:
            chat.press(what)
        assert chat.state is not None, f"{how} {what!r} ended the conversation: {chat.text}"


@pytest.mark.parametrize(("name", "cut"), CUTS, ids=[f"{n}-{c}" for n, c in CUTS])
def test_typed_cancel_after_every_step_changes_nothing(demo, coordinator, name, cut) -> None:  # type: ignore[no-untyped-def]
    prepare(demo, name)
    before = demo.snapshot()
    walk(coordinator, PATHS[name][:cut])
    step = coordinator.state["step"]
    coordinator.say("cancel")
    assert coordinator.has("Cancelled", "nothing was changed"), step
    assert coordinator.final and coordinator.state is None
    assert demo.snapshot() == before


@pytest.mark.parametrize(("name", "cut"), CUTS, ids=[f"{n}-{c}" for n, c in CUTS])
def test_the_cancel_button_after_every_step_changes_nothing(demo, coordinator, name, cut) -> None:  # type: ignore[no-untyped-def]
    """The Cancel button where the question has buttons; where it asks for
    typed text (a name, an address) there are none, and /cancel does it."""
    prepare(demo, name)
    before = demo.snapshot()
    walk(coordinator, PATHS[name][:cut])
    if "Cancel" in coordinator.buttons:
        coordinator.press("Cancel")
    else:
        assert not coordinator.buttons
        coordinator.send(Text("/cancel"))
    assert coordinator.has("Cancelled", "nothing was changed")
    assert coordinator.state is None
    assert demo.snapshot() == before


@pytest.mark.parametrize("word", ["cancel", "CANCEL", " /cancel ", "stop", "quit", "Cancel"])
def test_every_cancel_word_works_at_the_confirm_of_add(demo, coordinator, word) -> None:  # type: ignore[no-untyped-def]
    before = demo.snapshot()
    walk(coordinator, ADD_ONE_LINE)
    assert coordinator.state["confirming"]
    coordinator.say(word)
    assert coordinator.has("Cancelled 'add'; nothing was changed.")
    assert demo.snapshot() == before


def test_cancel_at_the_second_delete_confirmation_keeps_the_account(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    prepare(demo, "delete")
    before = demo.snapshot()
    walk(coordinator, DELETE_PLAIN)
    assert coordinator.has("Last check")
    coordinator.say("cancel")
    assert demo.snapshot() == before
    assert demo.hub.account_by_email(GRACE) is not None


def test_cancel_after_a_confirmed_transfer_keeps_only_that_transfer(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    """Inside ``delete``, the transfer confirmed is done and stays done;
    cancelling the rest changes nothing more."""
    walk(coordinator, DELETE_WITH_DATA)
    coordinator.press("Transfer")
    assert coordinator.has("Moved 1 record(s)")
    after_transfer = demo.snapshot()
    coordinator.press("Transfer the rest")
    coordinator.press("Eun-ji Park")
    coordinator.press("Cancel")
    assert demo.snapshot() == after_transfer
    assert demo.hub.account_by_email(FARID) is not None


def test_cancel_with_nothing_open_says_so(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say("cancel")
    assert "nothing to cancel" in coordinator.text.lower()


def test_a_new_command_replaces_the_open_conversation_with_nothing_changed(
    demo, coordinator
) -> None:  # type: ignore[no-untyped-def]
    before = demo.snapshot()
    walk(coordinator, ADD_ONE_LINE)
    coordinator.send(Command("users"))
    assert coordinator.state["name"] == "users"
    coordinator.send(Text("cancel"))
    assert demo.snapshot() == before
