"""Every cell of SPEC "Who may do what": the allowed case does what it says,
the refused case raises with a sentence for the person and changes nothing.
Then: never another centre's accounts, never a suspended or deleted actor."""

from __future__ import annotations

import pytest

from hub import Action, Actor, HubError, NewAccount, NotAllowed, NotFound, Role, Status
from hub.schema import AUDIT, OUTBOX

ROLES = ["coordinator", "admin", "teacher"]


def allowed_for(*roles: str) -> list:  # type: ignore[type-arg]
    return [
        pytest.param(role, role in roles, id=f"{role}-{'yes' if role in roles else 'no'}")
        for role in ROLES
    ]


def audit_actions(store) -> list[str]:  # type: ignore[no-untyped-def]
    return [d["action"] for d in sorted(store.scan(AUDIT), key=lambda d: d["_key"])]


def refused(unchanged, error, call, match: str | None = None) -> str:  # type: ignore[no-untyped-def]
    with unchanged(), pytest.raises(error, match=match) as caught:
        call()
    message = caught.value.message
    assert message and message.endswith((".", "?")) and "\n" not in message
    return message


# --------------------------------------------- list, search, view accounts
@pytest.mark.parametrize("role,may", allowed_for("coordinator", "admin"))
def test_search_the_centre(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    actor = centre.actor(role)
    if may:
        page = centre.hub.search(actor, per_page=50)
        assert {a.email for a in page.items} == set(centre.accounts)
        assert centre.hub.view(actor, centre.teacher.account_id).email == "tess@riverside.school"
        assert centre.hub.view_by_email(actor, "TOM@riverside.school").name == "Tom Teacher"
    else:
        message = refused(unchanged, NotAllowed, lambda: centre.hub.search(actor))
        assert "own account" in message


@pytest.mark.parametrize("role,may", allowed_for("coordinator", "admin"))
def test_view_another_account(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    actor, target = centre.actor(role), centre.teacher2
    if may:
        assert centre.hub.view(actor, target.account_id) == centre.fresh(target)
    else:
        refused(unchanged, NotAllowed, lambda: centre.hub.view(actor, target.account_id))
        refused(unchanged, NotAllowed, lambda: centre.hub.view_by_email(actor, target.email))


@pytest.mark.parametrize("role", ROLES)
def test_everyone_views_their_own_account(centre, role) -> None:  # type: ignore[no-untyped-def]
    me = getattr(centre, role)
    assert centre.hub.view(centre.actor(role), me.account_id).email == me.email
    assert centre.hub.view_by_email(centre.actor(role), me.email).account_id == me.account_id


# ------------------------------------------------------------------- add
@pytest.mark.parametrize("role,may", allowed_for("coordinator", "admin"))
def test_add_accounts(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    hub, actor = centre.hub, centre.actor(role)
    draft = NewAccount("Nia New", "nia@riverside.school", False, ("forums",))
    if may:
        outcome = hub.add_accounts(actor, [draft])
        assert [a.email for a in outcome.created] == ["nia@riverside.school"]
        created = outcome.created[0]
        assert created.centre_id == centre.centre_id and created.role is Role.TEACHER
        assert hub.account_by_email("nia@riverside.school") == created
    else:
        refused(unchanged, NotAllowed, lambda: hub.add_accounts(actor, [draft]), "add accounts")
        refused(unchanged, NotAllowed, lambda: hub.check_rows(actor, [draft]))


# ------------------------------------------------------------------ edit
@pytest.mark.parametrize("role,may", allowed_for("coordinator", "admin"))
def test_edit_a_teacher(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    hub, actor, target = centre.hub, centre.actor(role), centre.teacher2
    if may:
        account, _ = hub.edit_account(
            actor, target.account_id, name="Thomas Teacher", sites=["forums"]
        )
        assert account.name == "Thomas Teacher" and account.sites == ("hub", "forums")
        assert centre.fresh(target) == account
    else:
        for change in ({"name": "Thomas"}, {"email": "t@riverside.school"}, {"sites": ["forums"]}):
            refused(
                unchanged,
                NotAllowed,
                lambda c=change: hub.edit_account(actor, target.account_id, **c),
            )


def test_a_teacher_cannot_edit_even_their_own_details(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    me = centre.teacher
    refused(
        unchanged,
        NotAllowed,
        lambda: centre.hub.edit_account(centre.actor(me), me.account_id, name="Tessa"),
    )


def test_admins_edit_teachers_and_themselves_only(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    hub, actor = centre.hub, centre.actor("admin")
    for other in (centre.coordinator, centre.admin2):
        refused(
            unchanged, NotAllowed, lambda o=other: hub.edit_account(actor, o.account_id, name="X Y")
        )
    account, _ = hub.edit_account(actor, centre.admin.account_id, name="Ada Admin-Lovelace")
    assert account.name == "Ada Admin-Lovelace"
    # The coordinator may edit anyone of the centre.
    account, _ = hub.edit_account(
        centre.actor("coordinator"), centre.admin2.account_id, name="Abe A"
    )
    assert account.name == "Abe A"


# ----------------------------------------------------- reset and resend
@pytest.mark.parametrize("role,may", allowed_for("coordinator", "admin"))
def test_reset_another_account(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    hub, actor, target = centre.hub, centre.actor(role), centre.teacher2
    emails_before = centre.hub.store.count(OUTBOX)
    if may:
        said = hub.reset_password(actor, target.account_id)
        assert target.email in said
        assert hub.store.count(OUTBOX) == emails_before + 1
    else:
        refused(unchanged, NotAllowed, lambda: hub.reset_password(actor, target.account_id))


@pytest.mark.parametrize("role", ROLES)
def test_everyone_may_reset_their_own_password(centre, role) -> None:  # type: ignore[no-untyped-def]
    me = getattr(centre, role)
    before = centre.hub.store.count(OUTBOX)
    assert me.email in centre.hub.reset_password(centre.actor(role), me.account_id)
    assert centre.hub.store.count(OUTBOX) == before + 1


# ------------------------------------------------------ suspend, restore
@pytest.mark.parametrize("role,may", allowed_for("coordinator", "admin"))
def test_suspend(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    hub, actor, target = centre.hub, centre.actor(role), centre.teacher2
    if may:
        assert hub.suspend(actor, target.account_id).status is Status.SUSPENDED
        assert centre.fresh(target).status is Status.SUSPENDED
    else:
        refused(unchanged, NotAllowed, lambda: hub.suspend(actor, target.account_id), "suspend")


@pytest.mark.parametrize("role,may", allowed_for("coordinator", "admin"))
def test_restore(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    hub, actor, target = centre.hub, centre.actor(role), centre.suspended
    if may:
        assert hub.restore(actor, target.account_id).status is Status.ACTIVE
        assert centre.fresh(target).suspended_at is None
    else:
        refused(unchanged, NotAllowed, lambda: hub.restore(actor, target.account_id), "restore")


def test_admins_may_suspend_another_admin(centre) -> None:  # type: ignore[no-untyped-def]
    account = centre.hub.suspend(centre.actor("admin"), centre.admin2.account_id)
    assert account.status is Status.SUSPENDED


# ------------------------------------------------------------- transfer
@pytest.mark.parametrize("role,may", allowed_for("coordinator", "admin"))
def test_transfer(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    hub, actor = centre.hub, centre.actor(role)
    source, target = centre.teacher, centre.teacher2
    if may:
        assert hub.transfer(actor, source.account_id, "primary", target.account_id) == 2
        assert hub.data_items(source.account_id) == []
    else:
        refused(
            unchanged,
            NotAllowed,
            lambda: hub.transfer(actor, source.account_id, "primary", target.account_id),
            "transfer",
        )


# ---------------------------------------------------------- admin rights
@pytest.mark.parametrize("role,may", allowed_for("coordinator"))
def test_give_admin_rights(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    hub, actor, target = centre.hub, centre.actor(role), centre.teacher2
    if may:
        assert hub.set_admin(actor, target.account_id, True).role is Role.ADMIN
    else:
        message = refused(
            unchanged, NotAllowed, lambda: hub.set_admin(actor, target.account_id, True)
        )
        assert "Only the centre's coordinator can give admin rights" in message


@pytest.mark.parametrize("role,may", allowed_for("coordinator"))
def test_remove_admin_rights(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    hub, actor, target = centre.hub, centre.actor(role), centre.admin2
    if may:
        assert hub.set_admin(actor, target.account_id, False).role is Role.TEACHER
    else:
        refused(unchanged, NotAllowed, lambda: hub.set_admin(actor, target.account_id, False))


def test_only_the_coordinator_may_add_an_admin(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    draft = NewAccount("Ana Admin", "ana@riverside.school", True)
    outcome = centre.hub.add_accounts(centre.actor("admin"), [draft])
    assert outcome.created == []
    assert "Only the coordinator can give admin rights." in outcome.refused[0][1]
    created = centre.hub.add_accounts(centre.actor("coordinator"), [draft]).created
    assert created[0].role is Role.ADMIN


# ---------------------------------------------------------------- delete
@pytest.mark.parametrize("role,may", allowed_for("coordinator"))
def test_delete(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    boss = centre.actor("coordinator")
    gone = hub.add_accounts(boss, [NewAccount("Gil Gone", "gil@riverside.school")]).created[0]
    hub.suspend(boss, gone.account_id)
    actor = centre.actor(role)
    if may:
        assert hub.delete(actor, gone.account_id).email == "gil@riverside.school"
        assert hub.account(gone.account_id) is None
        assert hub.account_by_email("gil@riverside.school") is None
    else:
        refused(unchanged, NotAllowed, lambda: hub.delete(actor, gone.account_id), "delete")


# ------------------------------------------------------------- audit log
@pytest.mark.parametrize("role,may", allowed_for("coordinator", "admin"))
def test_see_the_audit_log(centre, unchanged, role, may) -> None:  # type: ignore[no-untyped-def]
    actor = centre.actor(role)
    if may:
        page = centre.hub.audit_log(actor, per_page=100)
        actions = {e.action for e in page.items}
        assert {"create centre", "add", "suspend", "import data"} <= actions
    else:
        refused(unchanged, NotAllowed, lambda: centre.hub.audit_log(actor), "audit log")


# --------------------------------------------------- the same table via may()
EXPECTED = {
    # action: (coordinator, admin, teacher) on a teacher of their centre
    Action.VIEW: (True, True, False),
    Action.EDIT: (True, True, False),
    Action.RESET: (True, True, False),
    Action.SUSPEND: (True, True, False),
    Action.RESTORE: (True, True, False),
    Action.TRANSFER: (True, True, False),
    Action.GRANT_ADMIN: (True, False, False),
    Action.REMOVE_ADMIN: (True, False, False),
    Action.DELETE: (True, False, False),
}


@pytest.mark.parametrize("action", list(EXPECTED))
def test_may_answers_the_whole_table_without_changing_anything(centre, unchanged, action) -> None:  # type: ignore[no-untyped-def]
    target = centre.teacher2
    with unchanged():
        got = tuple(centre.hub.may(centre.actor(r), action, target) is None for r in ROLES)
    assert got == EXPECTED[action]
    for role in ("coordinator", "admin"):
        assert centre.hub.may(centre.actor(role), Action.ADD) is None
        assert centre.hub.may(centre.actor(role), Action.AUDIT) is None
    assert centre.hub.may(centre.actor("teacher"), Action.ADD) is not None
    assert centre.hub.may(centre.actor("teacher"), Action.AUDIT) is not None


# ------------------------------------------ never another centre's accounts
CROSS_CENTRE = {
    "view": lambda h, a, t: h.view(a, t.account_id),
    "view by email": lambda h, a, t: h.view_by_email(a, t.email),
    "edit": lambda h, a, t: h.edit_account(a, t.account_id, name="Stolen"),
    "reset": lambda h, a, t: h.reset_password(a, t.account_id),
    "suspend": lambda h, a, t: h.suspend(a, t.account_id),
    "restore": lambda h, a, t: h.restore(a, t.account_id),
    "admin": lambda h, a, t: h.set_admin(a, t.account_id, True),
    "delete": lambda h, a, t: h.delete(a, t.account_id),
    "snooze": lambda h, a, t: h.snooze(a, t.account_id),
    "transfer from": lambda h, a, t: h.transfer(a, t.account_id, "primary", t.account_id),
}


@pytest.mark.parametrize("what", list(CROSS_CENTRE))
def test_another_centres_accounts_do_not_exist_for_you(
    centre, other_centre, unchanged, what
) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    intruder = Actor(other_centre.coordinator.account_id, "test")
    for target in (centre.teacher, centre.suspended, centre.coordinator):
        message = refused(
            unchanged, NotFound, lambda t=target: CROSS_CENTRE[what](hub, intruder, t)
        )
        # The same words as for an address nobody has.
        assert message == "There is no account with that email address in your centre."
    assert hub.may(intruder, Action.VIEW, centre.teacher) is not None
    assert all(a.centre_id == "FR002" for a in hub.search(intruder, per_page=100).items)


def test_transfer_to_another_centres_account_is_refused(centre, other_centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    refused(
        unchanged,
        NotFound,
        lambda: centre.hub.transfer(
            centre.actor("coordinator"),
            centre.teacher.account_id,
            "primary",
            other_centre.teacher.account_id,
        ),
    )


def test_search_never_shows_another_centre(centre, other_centre) -> None:  # type: ignore[no-untyped-def]
    page = centre.hub.search(centre.actor("coordinator"), "o", per_page=100)
    assert page.items and all(a.centre_id == centre.centre_id for a in page.items)
    assert centre.hub.search(centre.actor("coordinator"), "colline").total == 0
    entries = centre.hub.audit_log(centre.actor("coordinator"), per_page=500).items
    assert not any("colline" in e.target for e in entries)


# ----------------------------------------- suspended or deleted actors get nothing
ANYTHING = {
    "view own": lambda h, w, a: h.view(a, w.suspended.account_id),
    "search": lambda h, w, a: h.search(a),
    "audit": lambda h, w, a: h.audit_log(a),
    "add": lambda h, w, a: h.add_accounts(a, [NewAccount("Zed Zed", "zed@riverside.school")]),
    "suspend": lambda h, w, a: h.suspend(a, w.teacher.account_id),
    "reset own": lambda h, w, a: h.reset_password(a, w.suspended.account_id),
}


@pytest.mark.parametrize("what", list(ANYTHING))
def test_a_suspended_account_can_do_nothing(centre, unchanged, what) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    # Sam was even an admin: suspension removes every right at once.
    hub.restore(centre.actor("coordinator"), centre.suspended.account_id)
    hub.set_admin(centre.actor("coordinator"), centre.suspended.account_id, True)
    hub.suspend(centre.actor("coordinator"), centre.suspended.account_id)
    actor = centre.actor("suspended")
    message = refused(unchanged, NotAllowed, lambda: ANYTHING[what](hub, centre, actor))
    assert "suspended" in message
    assert hub.may(actor, Action.VIEW, centre.suspended) is not None


def test_a_deleted_account_can_do_nothing(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    ghost = Actor("acc_000000000000", "telegram:42")
    for call in ANYTHING.values():
        with unchanged(), pytest.raises(HubError):
            call(centre.hub, centre, ghost)


def test_the_operator_acts_on_any_centre_but_not_through_the_chat(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    hub, operator = centre.hub, Actor.operator()
    outcome = hub.add_accounts(
        operator, [NewAccount("Op Added", "op@riverside.school")], centre_id="GB001"
    )
    assert outcome.created[0].centre_id == "GB001"
    for call in (lambda: hub.search(operator), lambda: hub.audit_log(operator)):
        refused(unchanged, HubError, call, "operator")
    assert audit_actions(hub.store)[-1] == "add"
