"""A bot stopped in the middle of a conversation and started again resumes
it: the state is in the store, not in the process (SPEC "Conversations").

Here the store is closed and reopened and a new Hub and Engine built on it,
as a restarted process would; tests/bot/test_console.py kills a real one.
"""

from __future__ import annotations

from handlers.conversations import all_conversations
from handlers.engine import Engine
from handlers.replies import Press
from hub import Hub
from hub.schema import INDEXES, migrate
from storage.tinydb_store import TinyDBStore


def restart(demo, chat, data_dir):  # type: ignore[no-untyped-def]
    """Close the store and bring up a new hub and engine on the reopened one;
    the chat keeps its person and its last replies (the buttons on screen)."""
    demo.hub.store.close()
    store = TinyDBStore(data_dir, INDEXES)
    migrate(store)
    demo.hub = Hub(store, public_url=demo.hub.public_url, clock=demo.clock)
    demo.engine = Engine(demo.hub, all_conversations())
    chat.engine = demo.engine
    return store


def test_add_resumes_after_a_restart(demo, coordinator, data_dir) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add")
    coordinator.say("Jane Smith")
    coordinator.say("jane@school.org")
    coordinator.press("Yes, admin")
    coordinator.press("Cambridge Primary support site")
    store = restart(demo, coordinator, data_dir)
    try:
        assert coordinator.state["name"] == "add" and coordinator.state["step"] == "sites"
        coordinator.press("Test Maker")  # a button of the message sent before the restart
        assert coordinator.ticks["Cambridge Primary support site"] is True
        assert coordinator.ticks["Test Maker"] is True
        coordinator.say("Done")  # typed label
        coordinator.press("Add another")
        coordinator.say("Kim Lee")
        store = restart(demo, coordinator, data_dir)
        coordinator.say("kim@school.org")
        coordinator.say("no")
        coordinator.press("Done")
        coordinator.press("Review and confirm")
        store = restart(demo, coordinator, data_dir)
        coordinator.press("Add 2 account(s)")
        assert coordinator.has("Added 2 account(s)")
        jane = demo.account("jane@school.org")
        assert jane.role.value == "admin" and jane.sites == ("hub", "primary", "test-maker")
        assert demo.account("kim@school.org").sites == ("hub",)
    finally:
        store.close()


def test_a_delete_that_went_through_a_transfer_resumes_where_it_was(
    demo, coordinator, data_dir
) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("delete farid")
    coordinator.press("Transfer data first")
    coordinator.press("Cambridge Primary support site (1)")
    coordinator.press("Dev Patel")
    coordinator.press("Transfer")
    coordinator.press("Transfer the rest")
    store = restart(demo, coordinator, data_dir)
    try:
        coordinator.press("Eun-ji Park")
        coordinator.press("Transfer")
        assert coordinator.has("Delete ", "Farid Nasser")  # still carrying on to the delete
        store = restart(demo, coordinator, data_dir)
        coordinator.press("Delete")
        coordinator.press("Yes, delete Farid Nasser")
        assert coordinator.has("was deleted")
    finally:
        store.close()


def test_a_used_button_stays_used_after_a_restart(demo, coordinator, data_dir) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("suspend grace")
    token = coordinator.token("Suspend")
    coordinator.send(Press(token))
    store = restart(demo, coordinator, data_dir)
    try:
        before = demo.snapshot()
        coordinator.send(Press(token))
        assert coordinator.has("already used; nothing was done")
        assert demo.snapshot() == before
    finally:
        store.close()


def test_a_conversation_left_idle_across_a_restart_expires(demo, coordinator, data_dir) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("suspend grace")
    store = restart(demo, coordinator, data_dir)
    try:
        demo.clock.advance(minutes=20)
        with demo.unchanged():
            coordinator.press("Suspend")
        assert coordinator.has("expired after 15 minutes idle")
        assert demo.account("grace.mensah@demo.school").active
    finally:
        store.close()
