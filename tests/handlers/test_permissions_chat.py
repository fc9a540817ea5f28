"""Who may do what, through the chat (SPEC "Who may do what").

Up front: for each role, every conversation it may not start is refused
before any question, with one clear sentence, nothing stored and nothing
changed, whether typed bare, with its argument, by an alias or as a
platform command. Again at Confirm: things may change between the summary
and the press, and then the bot says so and does nothing.
"""

from __future__ import annotations

import pytest

from handlers.replies import Command, Person, Text
from hub import Actor, Role

COORDINATOR = "coordinator@demo.school"
AMIRA = "amira.haddad@demo.school"
BEN = "ben.okafor@demo.school"
CHLOE = "chloe.martin@demo.school"
DEV = "dev.patel@demo.school"
FARID = "farid.nasser@demo.school"
GRACE = "grace.mensah@demo.school"

# Every conversation a linked person could start, with a typical argument.
ARGS = {
    "add": "Jane Smith jane@school.org",
    "import": "",
    "find": "farid",
    "users": "suspended",
    "show": FARID,
    "edit": DEV,
    "admin": DEV,
    "unadmin": BEN,
    "suspend": DEV,
    "restore": FARID,
    "transfer": FARID,
    "delete": FARID,
    "reset": DEV,
    "snooze": FARID,
    "audit": "",
    "me": "",
    "help": "",
}
ALIASES = {
    "new": "add",
    "invite": "add",
    "bulk": "import",
    "search": "find",
    "list": "users",
    "card": "show",
    "view": "show",
    "log": "audit",
    "history": "audit",
}
REFUSED = {
    "coordinator": set(),
    "admin": {"admin", "unadmin", "delete"},
    "teacher": set(ARGS) - {"me", "reset", "help"},
}
WHO = {"coordinator": COORDINATOR, "admin": AMIRA, "teacher": CHLOE}
SENTENCES = {
    "admin": {
        "admin": "Only the centre's coordinator can give admin rights; please ask them.",
        "unadmin": "Only the centre's coordinator can remove admin rights; please ask them.",
        "delete": "Only the centre's coordinator can delete accounts; please ask them.",
    },
    "teacher": {
        "add": "Only the coordinator and admins can add accounts; please ask them.",
        "import": "Only the coordinator and admins can add accounts; please ask them.",
        "edit": "Only the coordinator and admins can edit accounts; please ask them.",
        "suspend": "Only the coordinator and admins can suspend accounts; please ask them.",
        "snooze": "Only the coordinator and admins can suspend accounts; please ask them.",
        "restore": "Only the coordinator and admins can restore accounts; please ask them.",
        "transfer": (
            "Only the coordinator and admins can transfer Progression Test data; please ask them."
        ),
        "admin": "Only the centre's coordinator can give admin rights; please ask them.",
        "unadmin": "Only the centre's coordinator can remove admin rights; please ask them.",
        "delete": "Only the centre's coordinator can delete accounts; please ask them.",
        "audit": "Only the coordinator and admins can see the audit log; please ask them.",
        "find": "Teachers can use 'me' and 'reset' only; please ask your coordinator.",
        "users": "Teachers can use 'me' and 'reset' only; please ask your coordinator.",
        "show": "Teachers can use 'me' and 'reset' only; please ask your coordinator.",
    },
}
MATRIX = [(role, name) for role, names in REFUSED.items() for name in sorted(names)]


def refused_up_front(demo, chat, event, sentence) -> None:  # type: ignore[no-untyped-def]
    before = demo.snapshot()
    replies = chat.send(event)
    assert len(replies) == 1, chat.text
    assert replies[0].final and not replies[0].buttons
    assert chat.text == sentence
    assert chat.state is None
    assert demo.snapshot() == before
    for private in ("Farid", "Dev Patel", "Ben Okafor", "@"):
        assert private not in chat.text


@pytest.mark.parametrize(("role", "name"), MATRIX, ids=[f"{r}-{n}" for r, n in MATRIX])
def test_a_conversation_not_allowed_is_refused_before_any_question(demo, role, name) -> None:  # type: ignore[no-untyped-def]
    chat = demo.chat(WHO[role])
    sentence = SENTENCES[role][name]
    refused_up_front(demo, chat, Text(name), sentence)
    refused_up_front(demo, chat, Text(f"{name} {ARGS[name]}".strip()), sentence)
    refused_up_front(demo, chat, Text(f"/{name.upper()} {ARGS[name]}"), sentence)
    refused_up_front(demo, chat, Command(name, ARGS[name]), sentence)
    for alias, target in ALIASES.items():
        if target == name:
            refused_up_front(demo, chat, Text(f"{alias} {ARGS[name]}"), sentence)


@pytest.mark.parametrize(("role", "name"), MATRIX, ids=[f"{r}-{n}" for r, n in MATRIX])
def test_a_refused_command_typed_at_a_card_is_refused_too(demo, role, name) -> None:  # type: ignore[no-untyped-def]
    """The own card (``me``) takes a typed command as the next thing to do:
    a command this role may not start is refused there just the same."""
    chat = demo.chat(WHO[role])
    chat.say("me")
    with demo.unchanged():
        chat.say(f"{name} {ARGS[name]}".strip())
    assert chat.text == SENTENCES[role][name]
    assert chat.state is None


ALLOWED = [
    (role, name)
    for role in ("coordinator", "admin", "teacher")
    for name in sorted(ARGS)
    if name not in REFUSED[role]
]


@pytest.mark.parametrize(("role", "name"), ALLOWED, ids=[f"{r}-{n}" for r, n in ALLOWED])
def test_a_conversation_allowed_starts(demo, role, name) -> None:  # type: ignore[no-untyped-def]
    chat = demo.chat(WHO[role])
    with demo.unchanged():
        chat.say(name)
    assert "Only" not in chat.text and "Teachers can" not in chat.text
    assert "I don't know" not in chat.text


def test_the_help_menu_matches_what_each_role_may_start(demo) -> None:  # type: ignore[no-untyped-def]
    for role, email in WHO.items():
        chat = demo.chat(email)
        chat.say("help")
        offered = {label.split(" - ")[0] for label in chat.buttons} - {"Cancel"}
        assert offered == set(ARGS) - REFUSED[role] - {"help"}, role


def test_a_teacher_sees_only_their_own_account(demo, teacher) -> None:  # type: ignore[no-untyped-def]
    teacher.say("me")
    assert teacher.has("Chloé Martin") and "Dev" not in teacher.text
    with demo.unchanged():
        teacher.say("cancel")
        teacher.say(f"reset {DEV}")
    assert "Dev" not in teacher.text and teacher.state is None


def test_an_unlinked_chat_can_start_nothing_but_linking(demo) -> None:  # type: ignore[no-untyped-def]
    person = Person("telegram", "555", None)
    for name, arg in ARGS.items():
        with demo.unchanged():
            said = "\n".join(r.text for r in demo.engine.handle(person, Text(f"{name} {arg}")))
        assert "not linked" in said, name
        assert "Farid" not in said and "demo.school" not in said


def test_another_centre_is_never_reached(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    demo.hub.create_centre("FR002", "Lycée", "Olga Autre", "olga@colline.school")
    for name in ("show", "edit", "suspend", "reset", "transfer", "admin"):
        with demo.unchanged():
            coordinator.say(f"{name} olga@colline.school")
        assert coordinator.has("There is no account with that email address in your centre.")
        coordinator.say("cancel")
    olga_chat = demo.chat("olga@colline.school")
    olga_chat.say(f"show {FARID}")
    assert olga_chat.has("no account with that email address in your centre")
    assert "Farid" not in olga_chat.text


# --------------------------------------------------- checked again at Confirm
def test_restored_by_someone_else_before_confirm(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    coordinator.say(f"restore {FARID}")
    assert coordinator.has("Restore ", "Farid Nasser")
    admin.say(f"restore {FARID}")
    admin.press("Restore")
    assert demo.account(FARID).active
    audit = demo.audit_count()
    with demo.unchanged():
        coordinator.press("Restore")
    assert coordinator.has("Nothing was changed", "Farid Nasser is not suspended")
    assert coordinator.final and coordinator.state is None
    assert demo.audit_count() == audit


def test_restored_by_someone_else_before_the_last_delete_check(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    actor = Actor(demo.account(COORDINATOR).account_id, "t")
    demo.hub.suspend(actor, demo.account(GRACE).account_id)
    coordinator.say(f"delete {GRACE}")
    coordinator.press("Delete")
    admin.say(f"restore {GRACE}")
    admin.press("Restore")
    with demo.unchanged():
        coordinator.press("Yes, delete Grace Mensah")
    assert coordinator.has("Nothing was changed", "Only a suspended account can be deleted")
    assert demo.account(GRACE).active


def test_admin_rights_removed_before_confirm(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    admin.say(f"suspend {DEV}")
    coordinator.say(f"unadmin {AMIRA}")
    coordinator.press("Remove admin rights")
    assert demo.account(AMIRA).role is Role.TEACHER
    with demo.unchanged():
        admin.press("Suspend")
    assert admin.has("Nothing was changed", "Only the coordinator and admins can suspend")
    assert demo.account(DEV).active


def test_the_actor_suspended_before_confirm(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    admin.say(f"suspend {DEV}")
    coordinator.say(f"suspend {AMIRA}")
    coordinator.press("Suspend")
    with demo.unchanged():
        admin.press("Suspend")
    assert "is suspended and can no longer log in" not in admin.text
    assert demo.account(DEV).active


def test_transfer_target_suspended_before_confirm(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    coordinator.say(f"transfer {FARID}")
    coordinator.press("Cambridge Primary support site (1)")
    coordinator.press("Grace Mensah")
    admin.say(f"suspend {GRACE}")
    admin.press("Suspend")
    with demo.unchanged():
        coordinator.press("Transfer")
    assert coordinator.has("Nothing was changed", "data can only go to an active account")


def test_edited_target_promoted_before_an_admins_confirm(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    admin.say(f"edit {DEV}")
    admin.press("Name")
    admin.say("Devan Patel")
    admin.press("Review and confirm")
    coordinator.say(f"admin {DEV}")
    coordinator.press("Give admin rights")
    with demo.unchanged():
        admin.press("Save changes")
    assert admin.has("Nothing was changed", "Admins can edit teachers' details")
    assert demo.account(DEV).name == "Dev Patel"


def test_the_data_moved_by_someone_else_before_confirm(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    coordinator.say(f"transfer {CHLOE}")
    coordinator.press("Dev Patel")
    admin.say(f"transfer {CHLOE}")
    admin.press("Grace Mensah")
    admin.press("Transfer")
    with demo.unchanged():
        coordinator.press("Transfer")
    assert coordinator.has("Nothing was changed", "holds no Progression Test data")
    grace = demo.account(GRACE)
    assert demo.hub.data_held(grace.account_id).counts == {"primary": 2}
