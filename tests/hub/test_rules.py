"""The hub's rules 1-10 (SPEC "The hub's rules"): each allowed case does what
it says, each refused case gives a reason and leaves the store as it was."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pytest

from hub import (
    Actor,
    Conflict,
    DataHeld,
    Invalid,
    LinkInvalid,
    NewAccount,
    NotAllowed,
    NotFound,
    Role,
    Status,
)
from hub.progression import DataRow
from hub.schema import AUDIT, DATA, OUTBOX, TOKENS


def boss(centre):  # type: ignore[no-untyped-def]
    return centre.actor("coordinator")


def add_one(centre, name: str, email: str, *sites: str, admin: bool = False):  # type: ignore[no-untyped-def]
    outcome = centre.hub.add_accounts(boss(centre), [NewAccount(name, email, admin, sites)])
    assert not outcome.refused, outcome.refused
    return outcome.created[0]


def refusal(centre, outcome_of) -> str:  # type: ignore[no-untyped-def]
    """The reason a single-row add was refused (nothing created)."""
    outcome = outcome_of
    assert outcome.created == [] and len(outcome.refused) == 1
    return outcome.refused[0][1]


# ---------------------------------------------------------------- rule 1
def test_an_account_has_a_centre_a_name_and_an_email(centre) -> None:  # type: ignore[no-untyped-def]
    account = add_one(centre, "  Nia   Nwosu ", " Nia.Nwosu@Riverside.School ")
    assert account.centre_id == "GB001"
    assert account.name == "Nia Nwosu"
    assert account.email == "Nia.Nwosu@riverside.school"  # domain normalised by the library
    assert centre.hub.account_by_email("nia.nwosu@RIVERSIDE.school") == account


@pytest.mark.parametrize(
    "email,reason",
    [
        ("jane", "An email address must have an @-sign."),
        ("jane@@school.org", "invalid characters"),
        ("jane@school", "should have a period"),
        ("jane@.school.org", "period"),
        ("jane..doe@school.org", "period"),
        ("jane doe@school.org", "invalid characters before the @-sign: SPACE"),
        ("jane@school_org.com", "invalid characters: '_'"),
        ("<jane@school.org>", "angle brackets"),
        ("jane@localhost", "should have a period"),
        ("jane@school.invalid", "special-use or reserved"),
        ("jane@[127.0.0.1]", "bracketed IP address"),
        ("jane@xn--.org", "period and a hyphen"),
        ("a" * 250 + "@school.org", "too long"),
        ("jane@" + "a" * 64 + ".org", "too many"),
        ("jane@" + "a" * 250 + ".org", "too long"),
        ("", "Please give an email address."),
        ("   ", "Please give an email address."),
        ("jane\u202e@school.org", "control character"),
        ("jane\x00@school.org", "control character"),
        ("jane@school.org\r\nBcc: x@evil.org", "control character"),
    ],
)
def test_invalid_addresses_are_refused_with_the_librarys_reason(
    centre, unchanged, email, reason
) -> None:  # type: ignore[no-untyped-def]
    with unchanged():
        outcome = centre.hub.add_accounts(boss(centre), [NewAccount("Jane Doe", email)])
    message = refusal(centre, outcome)
    assert reason in message
    assert message.startswith(("That ", "Please", "An "))
    with unchanged(), pytest.raises(Invalid):
        centre.hub.check_new_email(boss(centre), email)


def test_the_email_validator_reason_is_passed_on(centre) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid) as caught:
        centre.hub.check_new_email(boss(centre), "jane@@school.org")
    assert caught.value.message.startswith("That is not a valid email address: ")
    assert len(caught.value.message) > len("That is not a valid email address: ") + 10


@pytest.mark.parametrize(
    "taken,variant",
    [
        ("tess@riverside.school", "TESS@riverside.school"),
        ("tess@riverside.school", "Tess@RIVERSIDE.SCHOOL"),
        ("sam@riverside.school", "SAM@riverside.school"),  # a suspended account's address
        ("otto@colline.school", "Otto@Colline.School"),  # another centre's address
        ("olga@colline.school", "OLGA@colline.school"),  # another centre's coordinator
        ("josé@école.fr", unicodedata.normalize("NFD", "JOSÉ@école.fr")),
        ("josé@école.fr", unicodedata.normalize("NFD", "josé@ÉCOLE.FR")),
        ("straße@school.de", "STRASSE@school.de"),
        ("ǅemal@school.org", "ǆemal@school.org"),  # title case and lower case digraph
        ("ﬁona@school.org", "fiona@school.org"),  # compatibility ligature
    ],
)
def test_an_address_is_unique_across_the_hub_after_normalisation(
    centre, other_centre, unchanged, taken, variant
) -> None:  # type: ignore[no-untyped-def]
    if centre.hub.account_by_email(taken) is None:
        add_one(centre, "First Holder", taken)
    with unchanged():
        outcome = centre.hub.add_accounts(boss(centre), [NewAccount("Second Holder", variant)])
    assert "already used by another hub account" in refusal(centre, outcome)
    # Also from the other centre, and through the operator's import.
    olga = Actor(other_centre.coordinator.account_id, "test")
    with unchanged():
        outcome = centre.hub.add_accounts(olga, [NewAccount("Third Holder", variant)])
    assert "already used" in refusal(centre, outcome)
    with unchanged(), pytest.raises(Conflict, match="already used"):
        centre.hub.check_new_email(olga, variant)


def test_the_refusal_does_not_say_which_centre_holds_the_address(centre, other_centre) -> None:  # type: ignore[no-untyped-def]
    mine = refusal(
        centre,
        centre.hub.add_accounts(boss(centre), [NewAccount("X Y", "tess@riverside.school")]),
    )
    theirs = refusal(
        centre, centre.hub.add_accounts(boss(centre), [NewAccount("X Y", "otto@colline.school")])
    )
    assert mine.replace("tess@riverside.school", "@") == theirs.replace("otto@colline.school", "@")
    assert "colline" not in theirs.replace("otto@colline.school", "")


def test_editing_to_a_taken_address_is_refused(centre, other_centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    for taken in ("TOM@riverside.school", "otto@COLLINE.school", "sam@riverside.school"):
        with unchanged(), pytest.raises(Conflict, match="already used"):
            centre.hub.edit_account(boss(centre), centre.teacher.account_id, email=taken)
    # Its own address in another case is not "taken".
    account, _ = centre.hub.edit_account(
        boss(centre), centre.teacher.account_id, email="Tess@riverside.school"
    )
    assert account.email == "Tess@riverside.school"


def test_a_deleted_accounts_address_can_be_used_again(centre) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    gone = add_one(centre, "Gil Gone", "gil@riverside.school")
    hub.suspend(boss(centre), gone.account_id)
    hub.delete(boss(centre), gone.account_id)
    again = add_one(centre, "Gil Again", "GIL@riverside.school")
    assert again.account_id != gone.account_id


# ---------------------------------------------------------------- rule 2
def test_a_new_account_is_invited_by_email_and_shows_pending(centre, link_token) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    account = add_one(centre, "Nia New", "nia@riverside.school")
    assert account.invitation_pending and account.status_text() == "active, invitation pending"
    emails = [d for d in hub.store.scan(OUTBOX) if d["to_email"] == "nia@riverside.school"]
    assert [e["kind"] for e in emails] == ["invitation"] and emails[0]["state"] == "pending"
    raw = link_token(hub.store, "nia@riverside.school")
    assert f"https://hub.example.org/set-password?token={raw}" in emails[0]["text"]
    assert f"https://hub.example.org/set-password?token={raw}" in emails[0]["html"]
    assert "Riverside School" in emails[0]["text"]
    # Only the hash of the token is stored.
    assert raw not in str(list(hub.store.scan(TOKENS)))
    info = hub.check_link(raw)
    assert (info.account_name, info.centre_name, info.kind) == (
        "Nia New",
        "Riverside School",
        "invitation",
    )
    hub.set_password(raw, "Lantern-orchid-57-quartz")
    assert not centre.fresh(account).invitation_pending
    assert centre.fresh(account).has_password
    assert centre.fresh(account).status_text() == "active"


def test_the_invitation_can_be_resent_and_the_old_link_dies(centre, link_token, clock) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    account = add_one(centre, "Nia New", "nia@riverside.school")
    old = link_token(hub.store, account.email)
    clock.advance(days=6)
    said = hub.reset_password(boss(centre), account.account_id)
    assert "invitation was sent again" in said
    new = link_token(hub.store, account.email)
    assert new != old
    with pytest.raises(LinkInvalid):
        hub.check_link(old)
    clock.advance(days=6)  # 12 days after the first, 6 after the resend
    assert hub.check_link(new).kind == "invitation"


# ---------------------------------------------------------------- rule 3
def test_sites_hub_always_on_chosen_by_code_or_name(centre) -> None:  # type: ignore[no-untyped-def]
    account = add_one(
        centre, "Sia Sites", "sia@riverside.school", "Test Maker", "results_analysis", "FORUMS"
    )
    assert account.sites == ("hub", "test-maker", "results-analysis", "forums")
    assert account.site_names()[0] == "School Support Hub"
    plain = add_one(centre, "Pia Plain", "pia@riverside.school")
    assert plain.sites == ("hub",)
    account, _ = centre.hub.edit_account(boss(centre), account.account_id, sites=[])
    assert account.sites == ("hub",)


def test_an_unknown_site_is_refused_by_name(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    with unchanged():
        outcome = centre.hub.add_accounts(
            boss(centre), [NewAccount("Sia Sites", "sia@riverside.school", False, ("primry",))]
        )
    assert "Unknown site 'primry'" in refusal(centre, outcome)
    with unchanged(), pytest.raises(Invalid, match="primry"):
        centre.hub.edit_account(boss(centre), centre.teacher.account_id, sites=["primry"])


# ---------------------------------------------------------------- rule 4
def test_bulk_preview_shows_every_problem_and_changes_nothing(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    rows = [
        NewAccount("Good One", "one@riverside.school", False, ("primary",)),
        NewAccount("", "two@riverside.school"),
        NewAccount("Bad Mail", "not-an-address"),
        NewAccount("Dup Licate", "ONE@riverside.school"),
        NewAccount("Taken", "tess@riverside.school"),
        NewAccount("Bad Site", "site@riverside.school", False, ("nowhere",)),
        NewAccount("Good Two", "good2@riverside.school", True),
        NewAccount("Read Problem", "rp@riverside.school", read_problem="admin must be yes or no."),
    ]
    with unchanged():
        checked = centre.hub.check_rows(boss(centre), rows)
    assert [r.ok for r in checked] == [True, False, False, False, False, False, True, False]
    problems = {r.line: " ".join(r.problems) for r in checked if not r.ok}
    assert "name" in problems[2]
    assert "not a valid email" in problems[3]
    assert "appears twice in this list (first on row 1)" in problems[4]
    assert "already used" in problems[5]
    assert "Unknown site" in problems[6]
    assert "admin must be yes or no" in problems[8]
    # Applying creates every valid row, in one change, whatever the others hold.
    outcome = centre.hub.add_accounts(boss(centre), rows)
    assert [a.email for a in outcome.created] == ["one@riverside.school", "good2@riverside.school"]
    assert len(outcome.refused) == 6


def test_a_row_taken_between_preview_and_apply_is_refused_alone(centre) -> None:  # type: ignore[no-untyped-def]
    rows = [
        NewAccount("Ann A", "ann@riverside.school"),
        NewAccount("Ben B", "ben@riverside.school"),
    ]
    assert all(r.ok for r in centre.hub.check_rows(boss(centre), rows))
    add_one(centre, "Ben Elsewhere", "ben@riverside.school")  # someone was quicker
    outcome = centre.hub.add_accounts(boss(centre), rows)
    assert [a.email for a in outcome.created] == ["ann@riverside.school"]
    assert "already used" in outcome.refused[0][1]


# ---------------------------------------------------------------- rule 5
def test_suspend_stops_login_and_restore_brings_it_back(centre, link_token, clock) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    account = add_one(centre, "Nia New", "nia@riverside.school", admin=True)
    raw = link_token(hub.store, account.email)
    hub.suspend(boss(centre), account.account_id)
    suspended = centre.fresh(account)
    assert suspended.status is Status.SUSPENDED and suspended.suspended_at == clock()
    with pytest.raises(LinkInvalid):  # cannot set a password (log in) while suspended
        hub.check_link(raw)
    with pytest.raises(NotAllowed, match="suspended"):
        hub.search(Actor(account.account_id, "test"))
    hub.restore(boss(centre), account.account_id)
    assert centre.fresh(account).active and centre.fresh(account).suspended_at is None
    assert hub.search(Actor(account.account_id, "test")).total == 6 + 1


def test_suspend_and_restore_refuse_the_wrong_state(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    with unchanged(), pytest.raises(Conflict, match="already suspended"):
        centre.hub.suspend(boss(centre), centre.suspended.account_id)
    with unchanged(), pytest.raises(Conflict, match="not suspended"):
        centre.hub.restore(boss(centre), centre.teacher.account_id)


def test_only_a_suspended_account_can_be_deleted(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    plain = add_one(centre, "Del Me", "del@riverside.school")
    with unchanged(), pytest.raises(Conflict, match="Only a suspended account can be deleted"):
        centre.hub.delete(boss(centre), plain.account_id)
    centre.hub.suspend(boss(centre), plain.account_id)
    centre.hub.delete(boss(centre), plain.account_id)
    assert centre.hub.account(plain.account_id) is None
    # Its tokens cannot be used any more either.
    tokens = [t for t in centre.hub.store.scan(TOKENS) if t["account_id"] == plain.account_id]
    assert tokens and all(t["used_at"] for t in tokens)


# ---------------------------------------------------------------- rule 6
def test_an_account_holding_data_cannot_be_deleted(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    hub, sam = centre.hub, centre.suspended
    with unchanged(), pytest.raises(DataHeld) as caught:
        hub.delete(boss(centre), sam.account_id)
    assert caught.value.sites == {"primary": 1}
    assert "transfer it" in caught.value.message and "Cambridge Primary" in caught.value.message
    hub.transfer(boss(centre), sam.account_id, "primary", centre.teacher.account_id)
    hub.delete(boss(centre), sam.account_id)
    assert hub.account(sam.account_id) is None


# ---------------------------------------------------------------- rule 7
def many_items(centre, owner_email: str, site: str, n: int) -> None:  # type: ignore[no-untyped-def]
    rows = [DataRow(owner_email, site, f"Test {site} {i}", f"{i % 6}A") for i in range(n)]
    assert centre.hub.import_data("GB001", rows) == []


def owners(store) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {d["_key"]: d["owner_id"] for d in store.scan(DATA)}


def test_transfer_moves_every_item_on_the_site_exactly_once(centre, other_centre) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    tom, ada = centre.teacher2, centre.admin
    many_items(centre, tom.email, "primary", 40)
    many_items(centre, tom.email, "lower-secondary", 7)
    before = owners(hub.store)
    moved = hub.transfer(centre.actor("admin"), tom.account_id, "primary", ada.account_id)
    after = owners(hub.store)
    assert moved == 40
    assert set(after) == set(before)  # nothing lost, nothing duplicated
    changed = {k for k in before if before[k] != after[k]}
    assert len(changed) == 40
    assert all(before[k] == tom.account_id and after[k] == ada.account_id for k in changed)
    sites = {d["_key"]: d["site"] for d in hub.store.scan(DATA)}
    assert {sites[k] for k in changed} == {"primary"}
    # Tom keeps his lower-secondary data (7 + 1 from the fixture); nobody else moved.
    assert hub.data_held(tom.account_id).counts == {"lower-secondary": 8}
    assert hub.data_held(ada.account_id).counts == {"primary": 40}
    assert hub.data_held(other_centre.teacher.account_id).counts == {"primary": 1}
    entry = next(e for e in hub.audit_log(boss(centre)).items if e.action == "transfer")
    assert entry.before == {"owner": tom.email, "site": "primary", "items": 40}
    assert entry.after == {"owner": ada.email, "site": "primary", "items": 40}


def test_transfer_target_must_be_active(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    hub.suspend(boss(centre), centre.teacher2.account_id)
    with unchanged(), pytest.raises(Conflict, match="active account"):
        hub.transfer(boss(centre), centre.teacher.account_id, "primary", centre.teacher2.account_id)


def test_transfer_target_must_have_access_to_the_site(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub  # Tess has no lower-secondary access
    with unchanged(), pytest.raises(Conflict, match="no access to the Cambridge Lower Secondary"):
        hub.transfer(
            boss(centre), centre.teacher2.account_id, "lower-secondary", centre.teacher.account_id
        )


def test_transfer_target_must_be_in_the_same_centre(centre, other_centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    with unchanged(), pytest.raises(NotFound):
        centre.hub.transfer(
            boss(centre), centre.teacher.account_id, "primary", other_centre.teacher.account_id
        )


def test_transfer_refuses_the_owner_itself_other_sites_and_nothing_to_move(
    centre, unchanged
) -> None:  # type: ignore[no-untyped-def]
    hub, tess, tom = centre.hub, centre.teacher, centre.teacher2
    with unchanged(), pytest.raises(Conflict, match="already belongs"):
        hub.transfer(boss(centre), tess.account_id, "primary", tess.account_id)
    with unchanged(), pytest.raises(Invalid, match="primary or lower-secondary"):
        hub.transfer(boss(centre), tess.account_id, "forums", tom.account_id)
    with unchanged(), pytest.raises(Conflict, match="holds no Progression Test data"):
        hub.transfer(boss(centre), centre.admin.account_id, "primary", tom.account_id)


def test_transfer_targets_are_exactly_the_eligible_accounts(centre) -> None:  # type: ignore[no-untyped-def]
    targets = centre.hub.transfer_targets(boss(centre), centre.teacher.account_id, "primary")
    # Active, same centre, with primary access, not Tess herself; Sam is suspended.
    assert {a.email for a in targets} == {
        "cora@riverside.school",
        "ada@riverside.school",
        "abe@riverside.school",
        "tom@riverside.school",
    }
    lower = centre.hub.transfer_targets(boss(centre), centre.teacher2.account_id, "lower-secondary")
    assert {a.email for a in lower} == {"cora@riverside.school", "ada@riverside.school"}


# ---------------------------------------------------------------- rule 8
def test_reset_emails_a_one_hour_link_to_an_active_account(centre, link_token, clock) -> None:  # type: ignore[no-untyped-def]
    hub, tess = centre.hub, centre.teacher
    hub.set_password(link_token(hub.store, tess.email), "Quiet-river-morning-42")
    said = hub.reset_password(boss(centre), tess.account_id)
    assert "valid for 1 hour" in said and tess.email in said
    raw = link_token(hub.store, tess.email)
    assert hub.check_link(raw).kind == "reset"
    mails = [d for d in hub.store.scan(OUTBOX) if d["to_email"] == tess.email]
    assert sorted(m["kind"] for m in mails) == ["invitation", "password reset"]
    reset = next(m for m in mails if m["kind"] == "password reset")
    assert "Quiet-river" not in reset["text"] + reset["html"]  # never a password in an email
    clock.advance(minutes=59)
    assert hub.check_link(raw).kind == "reset"
    clock.advance(minutes=1)
    with pytest.raises(LinkInvalid):
        hub.check_link(raw)


def test_reset_refuses_a_suspended_account(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    with unchanged(), pytest.raises(Conflict, match="suspended"):
        centre.hub.reset_password(boss(centre), centre.suspended.account_id)


def test_reset_is_limited_per_account_and_hour(centre, unchanged, clock) -> None:  # type: ignore[no-untyped-def]
    hub, tom = centre.hub, centre.teacher2
    clock.advance(hours=2)  # the invitation itself was sent in an earlier hour
    for _ in range(5):
        clock.advance(minutes=1)
        hub.reset_password(boss(centre), tom.account_id)
    with unchanged(), pytest.raises(NotAllowed, match="5 emails were already sent"):
        hub.reset_password(boss(centre), tom.account_id)
    clock.advance(minutes=57)  # the first of the five is over an hour old
    assert "invitation" in hub.reset_password(boss(centre), tom.account_id)


# ---------------------------------------------------------------- rule 9
def test_search_by_partial_name_or_email_any_case(centre) -> None:  # type: ignore[no-untyped-def]
    hub, actor = centre.hub, centre.actor("admin")
    assert {a.name for a in hub.search(actor, "TEACH").items} == {"Tess Teacher", "Tom Teacher"}
    assert {a.email for a in hub.search(actor, "ada@").items} == {"ada@riverside.school"}
    assert hub.search(actor, "  riverside ").total == 6
    assert hub.search(actor, "nobody-like-this").total == 0
    add_one(centre, "Chloé Ærø", "chloe@riverside.school")
    assert [a.name for a in hub.search(actor, "CHLOÉ").items] == ["Chloé Ærø"]
    assert [a.name for a in hub.search(actor, "ærø").items] == ["Chloé Ærø"]


def test_search_filters_by_status_and_role(centre, link_token) -> None:  # type: ignore[no-untyped-def]
    hub, actor = centre.hub, centre.actor("coordinator")
    hub.set_password(link_token(hub.store, "tom@riverside.school"), "Quiet-river-morning-42")
    emails = lambda **kw: {a.email for a in hub.search(actor, per_page=50, **kw).items}  # noqa: E731
    assert emails(status="suspended") == {"sam@riverside.school"}
    assert "sam@riverside.school" not in emails(status="active")
    assert len(emails(status="active")) == 5
    assert "tom@riverside.school" not in emails(status="pending")
    assert len(emails(status="pending")) == 5
    assert emails(role="coordinator") == {"cora@riverside.school"}
    assert emails(role="admin") == {"ada@riverside.school", "abe@riverside.school"}
    assert emails(role="teacher", status="active") == {
        "tess@riverside.school",
        "tom@riverside.school",
    }
    with pytest.raises(Invalid, match="Status must be one of"):
        hub.search(actor, status="gone")
    with pytest.raises(Invalid, match="Role must be one of"):
        hub.search(actor, role="king")


def test_search_page_by_page(centre) -> None:  # type: ignore[no-untyped-def]
    hub, actor = centre.hub, centre.actor("coordinator")
    for i in range(20):
        add_one(centre, f"Pupil Teacher {i:02}", f"pt{i:02}@riverside.school")
    first = hub.search(actor, "pupil", per_page=8)
    assert (first.total, first.page, first.pages, len(first.items)) == (20, 1, 3, 8)
    pages = [hub.search(actor, "pupil", page=p, per_page=8).items for p in (1, 2, 3)]
    names = [a.name for page in pages for a in page]
    assert names == [f"Pupil Teacher {i:02}" for i in range(20)]  # each once, in order
    assert hub.search(actor, "pupil", page=99, per_page=8).page == 3
    assert hub.search(actor, "pupil", page=0, per_page=8).page == 1


# --------------------------------------------------------------- rule 10
SELF_OR_COORDINATOR = [
    ("coordinator", "coordinator", "suspend"),
    ("coordinator", "coordinator", "delete"),
    ("coordinator", "coordinator", "unadmin"),
    ("admin", "admin", "suspend"),
    ("admin", "coordinator", "suspend"),
    ("admin", "admin", "delete"),
    ("admin", "coordinator", "delete"),
    ("admin", "admin", "unadmin"),
    ("admin", "coordinator", "unadmin"),
]


@pytest.mark.parametrize("who,whom,what", SELF_OR_COORDINATOR)
def test_nobody_suspends_deletes_or_unadmins_themselves_or_the_coordinator(
    centre, unchanged, who, whom, what
) -> None:  # type: ignore[no-untyped-def]
    hub, actor, target = centre.hub, centre.actor(who), getattr(centre, whom)
    call = {
        "suspend": lambda: hub.suspend(actor, target.account_id),
        "delete": lambda: hub.delete(actor, target.account_id),
        "unadmin": lambda: hub.set_admin(actor, target.account_id, False),
    }[what]
    with unchanged(), pytest.raises(NotAllowed):
        call()


def test_rule_10_follows_the_role_after_a_hand_over(centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    hub.hand_over_coordinator("GB001", "ada@riverside.school")
    ada = Actor(centre.admin.account_id, "test")
    hub.suspend(ada, centre.coordinator.account_id)  # Cora is only an admin now
    hub.hand_over_coordinator("GB001", "abe@riverside.school")
    with unchanged(), pytest.raises(NotAllowed, match="coordinator"):
        hub.suspend(ada, centre.admin2.account_id)  # Abe is the coordinator now


def test_the_operator_hands_over_the_coordinator_role(centre, other_centre, unchanged) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    new, old = hub.hand_over_coordinator("gb001", "TOM@riverside.school")
    assert new.role is Role.COORDINATOR and new.email == "tom@riverside.school"
    assert old is not None and old.role is Role.ADMIN and old.email == "cora@riverside.school"
    assert hub.centre("GB001").coordinator_id == new.account_id
    tom = Actor(new.account_id, "t")
    coordinators = hub.search(tom, role="coordinator").items
    assert [a.email for a in coordinators] == ["tom@riverside.school"]
    # Cora is now an ordinary admin: the new coordinator may suspend her.
    hub.suspend(tom, old.account_id)
    for email, error in [
        ("tom@riverside.school", Conflict),  # already the coordinator
        ("sam@riverside.school", Conflict),  # suspended
        ("otto@colline.school", NotFound),  # another centre
        ("nobody@riverside.school", NotFound),
    ]:
        with unchanged(), pytest.raises(error):
            hub.hand_over_coordinator("GB001", email)
    with unchanged(), pytest.raises(NotFound, match="no centre"):
        hub.hand_over_coordinator("XX999", "tom@riverside.school")


# ------------------------------------------------------------- audit log
def test_every_change_is_audited_with_who_what_when_before_after(centre, clock) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    actor = Actor(centre.admin.account_id, "slack:U123")
    clock.advance(minutes=5)
    hub.suspend(actor, centre.teacher2.account_id)
    clock.advance(seconds=1)
    hub.edit_account(actor, centre.teacher2.account_id, name="Tom T")
    clock.advance(seconds=1)
    hub.restore(actor, centre.teacher2.account_id)
    entries = sorted(hub.store.scan(AUDIT), key=lambda d: d["_key"])[-3:]
    assert [e["action"] for e in entries] == ["suspend", "edit", "restore"]
    first = entries[0]
    assert first["actor"] == "ada@riverside.school" and first["via"] == "slack:U123"
    assert (
        first["time"] == (clock() - timedelta(seconds=2)).isoformat()
        and first["target"] == "tom@riverside.school"
    )
    assert first["before"]["status"] == "active" and first["after"]["status"] == "suspended"
    assert entries[1]["before"]["name"] == "Tom Teacher" and entries[1]["after"]["name"] == "Tom T"
    assert not any("password_hash" in (e["after"] or {}) for e in hub.store.scan(AUDIT))
    page = hub.audit_log(centre.actor("coordinator"), per_page=3)
    assert [e.action for e in page.items] == ["restore", "edit", "suspend"]  # newest first
