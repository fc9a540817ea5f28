"""Buttons pressed twice, or on an old message, are refused with a clear
sentence and never applied twice; a conversation idle for 15 minutes expires
with nothing changed, and says so (SPEC "Conversations")."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import time_machine

from handlers.conversations import all_conversations
from handlers.engine import STALE_BUTTON, STATES, Engine
from handlers.replies import Person, Press, Text
from hub import Hub, Status
from hub.demo import ensure_demo

GRACE = "grace.mensah@demo.school"
FARID = "farid.nasser@demo.school"
STALE = "belongs to an earlier message, or was already used; nothing was done"


def suspend_summary(chat) -> str:  # type: ignore[no-untyped-def]
    chat.say(f"suspend {GRACE}")
    return chat.token("Suspend")


# ------------------------------------------------------------ pressed twice
def test_confirm_pressed_twice_is_applied_once(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    token = suspend_summary(coordinator)
    audit = demo.audit_count()
    coordinator.send(Press(token))
    assert coordinator.has("is suspended")
    after_first = demo.snapshot()
    coordinator.send(Press(token))
    assert coordinator.has(STALE)
    assert demo.snapshot() == after_first
    assert demo.audit_count() == audit + 1


def test_confirm_pressed_twice_at_the_same_moment_is_applied_once(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    token = suspend_summary(coordinator)
    audit = demo.audit_count()
    replies: list[str] = []
    start = threading.Barrier(4)

    def press() -> None:
        start.wait()
        said = demo.engine.handle(coordinator.person, Press(token))
        replies.append("\n".join(r.text for r in said))

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum("is suspended and can no longer log in" in r for r in replies) == 1
    assert sum(STALE in r for r in replies) == 3
    assert demo.audit_count() == audit + 1


def test_add_confirmed_twice_creates_the_accounts_once(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add Jane Smith jane@school.org")
    coordinator.press("No, a teacher")
    coordinator.press("Done")
    coordinator.press("Review and confirm")
    token = coordinator.token("Add 1 account(s)")
    coordinator.send(Press(token))
    coordinator.send(Press(token))
    assert coordinator.has(STALE)
    assert len(demo.outbox("jane@school.org", "invitation")) == 1


def test_a_tick_box_pressed_twice_on_the_same_message_toggles_once(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add Jane Smith jane@school.org")
    coordinator.press("No, a teacher")
    token = coordinator.token("Test Maker")
    coordinator.send(Press(token))
    assert coordinator.ticks["Test Maker"] is True
    coordinator.send(Press(token))  # the message it was on has been replaced
    assert coordinator.has(STALE)
    assert coordinator.ticks["Test Maker"] is True  # shown again, unchanged
    coordinator.press("Done")
    coordinator.press("Review and confirm")
    coordinator.press("Add 1")
    assert demo.account("jane@school.org").sites == ("hub", "test-maker")


def test_a_transfer_confirmed_twice_moves_the_data_once(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say(f"transfer {FARID}")
    coordinator.press("Cambridge Primary support site (1)")
    coordinator.press("Dev Patel")
    token = coordinator.token("Transfer")
    coordinator.send(Press(token))
    coordinator.send(Press(token))
    assert coordinator.has(STALE)
    dev = demo.account("dev.patel@demo.school")
    assert demo.hub.data_held(dev.account_id).counts == {"primary": 2}


# ------------------------------------------------------- an older message
def test_a_button_of_an_earlier_question_is_refused_and_the_question_shown_again(
    demo, coordinator
) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add Jane Smith jane@school.org")
    old = coordinator.token("Yes, admin")
    coordinator.press("No, a teacher")
    assert coordinator.state["step"] == "sites"
    coordinator.send(Press(old))
    assert coordinator.has(STALE, "Which support sites")
    assert coordinator.state["step"] == "sites"
    assert coordinator.state["data"]["cur"]["admin"] is False
    coordinator.press("Done")
    coordinator.press("Review and confirm")
    coordinator.press("Add 1")
    assert demo.account("jane@school.org").role.value == "teacher"


def test_a_button_of_a_finished_conversation_is_refused(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say(f"show {GRACE}")
    suspend = coordinator.token("Suspend")
    coordinator.say("cancel")
    with demo.unchanged():
        coordinator.send(Press(suspend))
    assert coordinator.has(STALE) and coordinator.state is None


def test_a_card_button_pressed_after_the_account_changed_is_refused(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say(f"show {GRACE}")
    old_card = coordinator.token("Suspend")
    coordinator.press("Suspend")
    coordinator.press("Suspend")
    assert demo.account(GRACE).status is Status.SUSPENDED
    coordinator.send(Press(old_card))
    assert coordinator.has(STALE)


def test_someone_elses_button_does_nothing(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    token = suspend_summary(coordinator)
    with demo.unchanged():
        admin.send(Press(token))
    assert admin.has(STALE)
    coordinator.send(Press(token))  # still the coordinator's to press
    assert coordinator.has("is suspended")


def test_the_same_account_in_two_chats_keeps_two_conversations(demo) -> None:  # type: ignore[no-untyped-def]
    console = demo.chat("coordinator@demo.school", "console")
    telegram = demo.chat("coordinator@demo.school", "telegram")
    token = suspend_summary(console)
    telegram.say("users")
    telegram.send(Press(token))
    assert telegram.has(STALE)
    console.send(Press(token))
    assert console.has("is suspended")


def test_made_up_tokens_are_refused(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    suspend_summary(coordinator)
    with demo.unchanged():
        for token in ("", "c", "cAAAAA0", "l" + "x" * 12, "x" * 5000, "c\x00\n", "✓✓✓"):
            coordinator.send(Press(token))
            assert coordinator.has(STALE), token
    assert coordinator.state["step"] == "confirmed"


def test_a_stale_press_with_nothing_open_is_refused(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.send(Press("cXYZab0"))
    assert coordinator.text == STALE_BUTTON


# ------------------------------------------------------------------ expiry
def test_confirm_after_15_idle_minutes_expires_with_nothing_changed(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    token = suspend_summary(coordinator)
    demo.clock.advance(minutes=15, seconds=1)
    with demo.unchanged():
        coordinator.send(Press(token))
    assert coordinator.has("expired after 15 minutes idle; nothing was changed")
    assert coordinator.has(STALE)
    assert coordinator.state is None
    assert demo.account(GRACE).active


def test_a_typed_answer_after_expiry_starts_afresh(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add")
    demo.clock.advance(minutes=16)
    with demo.unchanged():
        coordinator.say("Jane Smith")
    assert coordinator.has("Your earlier 'add' conversation expired")
    assert coordinator.state is None or coordinator.state["name"] != "add"


def test_just_under_15_minutes_is_still_open(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    token = suspend_summary(coordinator)
    demo.clock.advance(minutes=14, seconds=59)
    coordinator.send(Press(token))
    assert coordinator.has("is suspended") and "expired" not in coordinator.text


def test_each_answer_restarts_the_idle_clock(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add")
    for answer in ("Jane Smith", "jane@school.org"):
        demo.clock.advance(minutes=10)
        coordinator.say(answer)
    demo.clock.advance(minutes=10)
    coordinator.press("No, a teacher")
    demo.clock.advance(minutes=10)
    coordinator.press("Done")
    demo.clock.advance(minutes=10)
    coordinator.press("Review and confirm")
    demo.clock.advance(minutes=10)
    coordinator.press("Add 1")
    assert coordinator.has("Added 1 account(s)")


def test_expire_idle_forgets_only_idle_conversations(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add")
    demo.clock.advance(minutes=10)
    admin.say("users")
    demo.clock.advance(minutes=6)
    assert demo.engine.expire_idle() == 1
    assert coordinator.state is None
    assert admin.state is not None


def test_expiry_with_time_machine_and_the_real_clock(store) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        hub = Hub(store)  # the default clock: the real time, as in production
        ensure_demo(hub)
        engine = Engine(hub, all_conversations())
        coordinator = hub.account_by_email("coordinator@demo.school")
        person = Person("console", "tm", coordinator.account_id)
        engine.handle(person, Text(f"suspend {GRACE}"))
        state = store.get(STATES, person.key)
        confirm = next(t for t, v in state["buttons"].items() if v == "confirm")
        traveller.move_to(start + timedelta(minutes=20))
        said = "\n".join(r.text for r in engine.handle(person, Press(confirm)))
    assert "expired after 15 minutes idle; nothing was changed" in said
    assert hub.account_by_email(GRACE).active
