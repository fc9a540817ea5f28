"""Every conversation end to end through the engine, on the demo centre: the
happy path and at least one refused path each (SPEC "Conversations").

The demo centre (hub/demo.py): coordinator Cora; admins Amira (primary,
lower-secondary, test-maker) and Ben (lower-secondary, results-analysis);
teachers Chloé (primary: 2 records), Dev (primary: 1), Eun-ji
(lower-secondary: 1), Grace (primary), and Farid, suspended 10 days ago with
one record on each Progression Test site. Everyone's invitation is pending.
"""

from __future__ import annotations

import pytest

from handlers.replies import Person, Text
from hub import Actor, Role, Status

COORDINATOR = "coordinator@demo.school"
AMIRA = "amira.haddad@demo.school"
BEN = "ben.okafor@demo.school"
CHLOE = "chloe.martin@demo.school"
DEV = "dev.patel@demo.school"
EUNJI = "eunji.park@demo.school"
FARID = "farid.nasser@demo.school"
GRACE = "grace.mensah@demo.school"


def data_sites(demo, email):  # type: ignore[no-untyped-def]
    return demo.hub.data_held(demo.account(email).account_id).counts


# ---------------------------------------------------------------------- help
def test_help_menu_lists_what_a_coordinator_may_do(coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("help")
    commands = [label.split(" - ")[0] for label in coordinator.buttons]
    assert commands == [
        *("add", "import", "find", "users", "show", "edit", "admin", "unadmin"),
        *("suspend", "restore", "transfer", "delete", "reset", "snooze", "audit", "me"),
        "Cancel",
    ]
    assert coordinator.has("Hello ", "Cora Ordinator")


def test_help_menu_of_an_admin_has_no_admin_rights_or_delete(admin) -> None:  # type: ignore[no-untyped-def]
    admin.say("help")
    commands = {label.split(" - ")[0] for label in admin.buttons}
    assert {"add", "suspend", "transfer", "audit", "reset", "me"} <= commands
    assert not commands & {"admin", "unadmin", "delete"}


def test_help_menu_of_a_teacher_is_me_and_reset(teacher) -> None:  # type: ignore[no-untyped-def]
    teacher.say("/start")
    assert [label.split(" - ")[0] for label in teacher.buttons] == ["reset", "me", "Cancel"]


def test_a_menu_button_starts_its_conversation(coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("help")
    coordinator.press("suspend")
    assert coordinator.has("Which account do you want to suspend?")
    assert coordinator.state["name"] == "suspend"


def test_a_menu_entry_can_be_typed_instead_of_pressed(coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("help")
    coordinator.say("audit - the centre's latest changes")
    assert coordinator.has("Latest changes")


def test_an_unknown_command_is_named_and_help_offered(coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("frobnicate the accounts")
    assert coordinator.has("I don't know", "frobnicate", "help")
    assert coordinator.state is None


def test_an_unlinked_chat_gets_only_the_help_to_link(demo) -> None:  # type: ignore[no-untyped-def]
    stranger = demo.engine
    person = Person("telegram", "9999", None)
    for text in ("help", "show farid", "users", "delete farid.nasser@demo.school", "me"):
        replies = stranger.handle(person, Text(text))
        said = "\n".join(r.text for r in replies)
        assert "link" in said
        assert "Farid" not in said and "@demo.school" not in said


def test_a_suspended_account_is_treated_as_unlinked(demo) -> None:  # type: ignore[no-untyped-def]
    farid = demo.chat(FARID)  # an old chat of an account suspended since
    farid.say("users")
    assert farid.has("not linked") and "Chloé" not in farid.text


# ----------------------------------------------------------------------- add
def test_add_two_people_with_the_form_and_add_another(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    audit_before = demo.audit_count()
    coordinator.say("add")
    assert coordinator.has("full name")
    coordinator.say("Jane Smith")
    assert coordinator.has("What is ", "Jane Smith", "email address")
    coordinator.say("jane@school.org")
    assert coordinator.has("Give ", "admin rights?")
    coordinator.press("Yes, admin")
    assert (
        coordinator.ticks == dict.fromkeys(coordinator.ticks, False) and len(coordinator.ticks) == 6
    )
    coordinator.press("Cambridge Primary support site")
    coordinator.press("Test Maker")
    assert coordinator.ticks["Cambridge Primary support site"] is True
    assert coordinator.ticks["Test Maker"] is True
    coordinator.press("Test Maker")  # untick
    assert coordinator.ticks["Test Maker"] is False
    coordinator.press("Done")
    assert coordinator.has("Ready: ", "Jane Smith", "admin")
    coordinator.press("Add another")
    coordinator.say("Kim Lee")
    coordinator.say("kim@school.org")
    coordinator.say("no")
    coordinator.say("lower-secondary; forums")  # sites typed instead of ticked
    coordinator.press("Review and confirm")
    assert coordinator.has("Add 2 account(s)?", "Jane Smith", "Kim Lee")
    assert demo.hub.account_by_email("jane@school.org") is None  # nothing before Confirm
    assert demo.audit_count() == audit_before
    coordinator.press("Add 2 account(s)")
    assert coordinator.final
    assert coordinator.has("Added 2 account(s)", "invitation", "jane@school.org", "kim@school.org")
    jane = demo.account("jane@school.org")
    kim = demo.account("kim@school.org")
    assert jane.role is Role.ADMIN and jane.sites == ("hub", "primary")
    assert kim.role is Role.TEACHER and kim.sites == ("hub", "lower-secondary", "forums")
    assert jane.invitation_pending and kim.invitation_pending
    assert len(demo.outbox("jane@school.org", "invitation")) == 1
    assert len(demo.outbox("kim@school.org", "invitation")) == 1
    assert demo.audit_count() == audit_before + 2
    assert coordinator.state is None


def test_add_one_line_form_asks_only_what_is_missing(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add Jane Smith jane@school.org")
    assert "name" not in coordinator.text.lower().split("give")[0]
    assert coordinator.has("Give ", "Jane Smith", " admin rights?")
    coordinator.press("No, a teacher")
    coordinator.press("Resource Plus")
    coordinator.press("Done")
    coordinator.press("Review and confirm")
    coordinator.press("Add 1 account(s)")
    jane = demo.account("jane@school.org")
    assert (jane.name, jane.role, jane.sites) == (
        "Jane Smith",
        Role.TEACHER,
        ("hub", "resource-plus"),
    )


def test_add_one_line_with_only_a_name_asks_the_email(coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add Jane Smith")
    assert coordinator.has("What is ", "Jane Smith", "'s email address?")


def test_add_one_line_with_only_an_email_asks_the_name(coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add jane@school.org")
    assert coordinator.has("full name")
    coordinator.say("Jane Smith")
    assert coordinator.has("admin rights?")


def test_add_one_line_with_a_taken_address_says_why_and_asks_for_it(coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add Chloe Again CHLOE.Martin@Demo.School")
    assert coordinator.has("already used by another hub account", "email address?")
    assert coordinator.state["step"] == "email"


def test_add_by_an_admin_never_asks_about_admin_rights(demo, admin) -> None:  # type: ignore[no-untyped-def]
    admin.say("add Jane Smith jane@school.org")
    assert admin.has("Which support sites")
    admin.press("Done")
    admin.press("Review and confirm")
    admin.press("Add 1")
    assert demo.account("jane@school.org").role is Role.TEACHER


def test_add_refuses_bad_answers_and_asks_again(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add")
    coordinator.say("   ")
    assert coordinator.has("Please give the person's name.", "full name")
    coordinator.say("Jane Smith")
    coordinator.say("jane@@school")
    assert coordinator.has("not a valid email address", "email address?")
    coordinator.say("jane@school.org")
    coordinator.say("maybe")
    assert coordinator.has("Please answer yes or no.")
    coordinator.say("n")
    coordinator.say("narnia")
    assert coordinator.has("Unknown site", "narnia")
    coordinator.press("Done")
    coordinator.say("perhaps")
    assert coordinator.has("Please choose 'Add another' or 'Review and confirm'.")
    coordinator.press("Add another")
    coordinator.say("Jane Twin")
    coordinator.say("JANE@school.org")
    assert coordinator.has("already in this list")
    assert demo.hub.account_by_email("jane@school.org") is None


def test_add_an_address_taken_meanwhile_is_reported_and_the_rest_added(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("add Jane Smith jane@school.org")
    coordinator.press("No, a teacher")
    coordinator.press("Done")
    coordinator.press("Add another")
    coordinator.say("Kim Lee kim@school.org")
    coordinator.say("kim@school.org")
    coordinator.press("No")
    coordinator.press("Done")
    coordinator.press("Review")
    amira = demo.chat(AMIRA)  # meanwhile, in another chat
    amira.say("add Jane Other jane@school.org")
    amira.press("Done")
    amira.press("Review")
    amira.press("Add 1")
    coordinator.press("Add 2")
    assert coordinator.has("Added 1 account(s)", "kim@school.org", "Not added", "already used")
    assert demo.account("jane@school.org").name == "Jane Other"


# -------------------------------------------------------------------- import
CSV = (
    b"\xef\xbb\xbfname,email,admin,sites\r\n"
    b"Jane Smith,jane@school.org,no,primary;forums\r\n"
    b"Bad Row,not-an-address,no,primary\r\n"
    b"Kim Lee,kim@school.org,yes,lower-secondary\r\n"
    b"Odd Sites,odd@school.org,no,narnia\r\n"
    b"Chloe Copy,chloe.martin@demo.school,no,\r\n"
)


def test_import_an_uploaded_csv_previews_every_problem_and_adds_the_valid_rows(
    demo, coordinator
) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("import")
    assert coordinator.has("CSV")
    before = demo.audit_count()
    coordinator.upload("staff.csv", CSV)
    assert coordinator.has("5 row(s) read; 2 can be added.")
    assert coordinator.has("✓ row 1", "✗ row 2", "not-an-address", "✓ row 3", "✗ row 4", "narnia")
    assert coordinator.has("✗ row 5", "already used")
    assert demo.audit_count() == before and demo.hub.account_by_email("jane@school.org") is None
    coordinator.press("Add 2 account(s)")
    assert coordinator.has("Added 2 account(s)", "Jane Smith", "Kim Lee")
    assert demo.account("kim@school.org").role is Role.ADMIN
    assert demo.account("jane@school.org").sites == ("hub", "primary", "forums")
    assert demo.hub.account_by_email("odd@school.org") is None
    assert demo.hub.account_by_email("not-an-address") is None
    assert len(demo.outbox(kind="invitation")) == 8 + 2


def test_import_pasted_lines(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("import")
    coordinator.say(
        "Jane Smith, jane@school.org, no, primary;forums\n"
        "\n"
        "Kim Lee kim@school.org\n"
        "Not An Email, nowhere, no\n"
    )
    assert coordinator.has("3 row(s) read; 2 can be added.", "✗ row 3")
    coordinator.press("Add 2")
    assert demo.account("kim@school.org").sites == ("hub",)
    assert demo.account("jane@school.org").sites == ("hub", "primary", "forums")


def test_import_with_nothing_valid_asks_again_and_changes_nothing(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say("import")
        coordinator.say("x")
        assert coordinator.has("0 can be added", "Nothing can be added")
        assert coordinator.state["step"] == "rows"
        coordinator.upload("staff.xlsx", b"PK\x03\x04")
        assert coordinator.has("Please send a .csv file")
        coordinator.upload("staff.csv", "name,email\nJosé,jose@school.org\n".encode("latin-1"))
        assert coordinator.has("not UTF-8")
        coordinator.upload("staff.csv", b"email,sites\nx@y.org,primary\n")
        assert coordinator.has("missing: name")
        coordinator.upload("staff.csv", b"name,email\n")
        assert coordinator.has("no rows")
        coordinator.upload("big.csv", b"name,email\n" + b"x" * (1024 * 1024 + 1))
        assert coordinator.has("too large")
        coordinator.say("cancel")
        assert coordinator.has("Cancelled")


def test_import_by_an_admin_refuses_admin_rows(demo, admin) -> None:  # type: ignore[no-untyped-def]
    admin.say("import")
    admin.say("Jane Smith, jane@school.org, yes\nKim Lee, kim@school.org, no")
    assert admin.has("✗ row 1", "Only the coordinator can give admin rights", "✓ row 2")
    admin.press("Add 1")
    assert demo.hub.account_by_email("jane@school.org") is None
    assert demo.account("kim@school.org").role is Role.TEACHER


def test_a_file_sent_outside_import_is_explained(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.upload("staff.csv", CSV)
    assert coordinator.has("send 'import' first")


# ------------------------------------------------------------- find / users
def test_users_pages_ten_at_a_time_with_next_and_previous(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    demo.add_teachers(14)  # 8 + 14 = 22 accounts: three pages
    coordinator.say("users")
    assert coordinator.has("Page 1 of 3 (22 in all).")
    first = coordinator.buttons
    assert len([b for b in first if "<" in b]) == 10
    assert "Next" in first and "Previous" not in first
    coordinator.press("Next")
    assert coordinator.has("Page 2 of 3") and coordinator.last[-1].edit
    assert "Next" in coordinator.buttons and "Previous" in coordinator.buttons
    coordinator.press("Next")
    assert coordinator.has("Page 3 of 3")
    assert len([b for b in coordinator.buttons if "<" in b]) == 2
    assert "Next" not in coordinator.buttons
    coordinator.press("Previous")
    coordinator.press("Previous")
    assert coordinator.has("Page 1 of 3") and coordinator.buttons == first


def test_find_by_part_of_a_name_or_email_with_filters(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("find chlo")
    assert coordinator.has("1 in all") and "Chloé Martin" in coordinator.text + str(
        coordinator.buttons
    )
    coordinator.say("cancel")
    coordinator.say("find OKAFOR")
    assert any("Ben Okafor" in b for b in coordinator.buttons)
    coordinator.say("suspended")  # a new search typed at the results
    assert [b.split(" <")[0] for b in coordinator.buttons if "<" in b] == ["Farid Nasser"]
    coordinator.say("role:admin")
    assert [b.split(" <")[0] for b in coordinator.buttons if "<" in b] == [
        "Amira Haddad",
        "Ben Okafor",
    ]
    coordinator.say("demo status:active role:teacher")
    names = [b.split(" <")[0] for b in coordinator.buttons if "<" in b]
    assert names == ["Chloé Martin", "Dev Patel", "Eun-ji Park", "Grace Mensah"]


def test_find_filter_buttons_and_opening_a_card(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("find")
    coordinator.press("Admins")
    assert coordinator.has("Accounts matching ", "admin")
    coordinator.press("Ben Okafor")
    assert coordinator.has("Ben Okafor", "Role: admin", "Status: active")
    assert coordinator.state["name"] == "show"


def test_find_with_no_match_says_so(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("find zebra")
    assert coordinator.has("No account matches", "zebra") and coordinator.final


def test_find_never_shows_another_centre(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    demo.hub.create_centre("FR002", "Lycée", "Olga Autre", "olga@colline.school")
    coordinator.say("find olga")
    assert coordinator.has("No account matches")
    coordinator.say("show olga@colline.school")
    assert coordinator.has("no account with that email address in your centre")


# ---------------------------------------------------------------------- show
def card_buttons(chat, who: str) -> list[str]:  # type: ignore[no-untyped-def]
    chat.say(f"show {who}")
    labels = [b for b in chat.buttons if b != "Cancel"]
    chat.say("cancel") if not chat.final else None
    return labels


def test_show_card_says_everything_about_the_account(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("show farid.nasser@demo.school")
    assert coordinator.has(
        "Farid Nasser",
        "Email: farid.nasser@demo.school",
        "Role: teacher",
        "Status: suspended",
        "Suspended since:",
        "Invitation pending: yes",
        "Cambridge Primary support site",
        "Progression Test data: 1 on Cambridge Primary support site, 1 on Cambridge Lower",
    )


def test_card_buttons_for_the_coordinator(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    assert card_buttons(coordinator, CHLOE) == [
        "Edit",
        "Resend invitation",
        "Suspend",
        "Transfer data",
        "Give admin rights",
    ]
    assert card_buttons(coordinator, GRACE) == [
        "Edit",
        "Resend invitation",
        "Suspend",
        "Give admin rights",
    ]
    assert card_buttons(coordinator, FARID) == [  # suspended: no admin rights offered
        "Edit",
        "Restore",
        "Transfer data",
        "Delete",
    ]
    assert card_buttons(coordinator, AMIRA) == [
        "Edit",
        "Resend invitation",
        "Suspend",
        "Remove admin rights",
    ]
    # rule 10: never suspend, delete or un-admin oneself
    assert card_buttons(coordinator, COORDINATOR) == ["Edit", "Resend invitation"]
    demo.set_password(GRACE)
    assert "Reset password" in card_buttons(coordinator, GRACE)


def test_card_buttons_for_an_admin(demo, admin) -> None:  # type: ignore[no-untyped-def]
    assert card_buttons(admin, CHLOE) == ["Edit", "Resend invitation", "Suspend", "Transfer data"]
    assert card_buttons(admin, FARID) == ["Edit", "Restore", "Transfer data"]
    # another admin's details and the coordinator's are not an admin's to edit
    assert card_buttons(admin, BEN) == ["Resend invitation", "Suspend"]
    assert card_buttons(admin, COORDINATOR) == ["Resend invitation"]
    assert card_buttons(admin, AMIRA) == ["Edit", "Resend invitation"]


def test_every_card_button_starts_its_action_on_that_account(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    expected = {
        "Edit": "Editing ",
        "Resend invitation": "resend the invitation",
        "Suspend": "Suspend ",
        "Transfer data": "Move 2 record(s)",
        "Give admin rights": "Give ",
    }
    for label, words in expected.items():
        coordinator.say(f"show {CHLOE}")
        coordinator.press(label)
        assert coordinator.has(words, "Chloé Martin"), label
        coordinator.say("cancel")


def test_show_by_part_of_a_name_offers_the_matches(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("show a")  # many names contain an a
    assert coordinator.has("Several accounts match")
    coordinator.press("Grace Mensah")
    assert coordinator.has("Email: grace.mensah@demo.school")


def test_show_an_unknown_address_says_so_and_asks_again(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("show nobody@demo.school")
    assert coordinator.has("no account with that email address in your centre", "Whose account?")
    coordinator.say("farid")
    assert coordinator.has("Farid Nasser", "Status: suspended")


# ---------------------------------------------------------------------- edit
def test_edit_name_email_and_sites(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    dev = demo.account(DEV)
    coordinator.say("edit dev")
    assert coordinator.has("Editing ", "Dev Patel")
    assert "Review and confirm" not in coordinator.buttons
    coordinator.press("Name")
    coordinator.say("  Devan   Patel ")
    assert coordinator.has("New name: Devan Patel")
    coordinator.press("Email")
    coordinator.say("Devan.Patel@Demo.School")
    coordinator.press("Sites")
    assert coordinator.ticks["Cambridge Primary support site"] is True
    assert coordinator.ticks["Online discussion forums"] is True
    coordinator.press("Online discussion forums")
    coordinator.press("Test Maker")
    coordinator.press("Done")
    coordinator.press("Review and confirm")
    assert coordinator.has("Save these changes to ", "Dev Patel")
    assert demo.account(DEV) == dev  # nothing before Confirm
    coordinator.press("Save changes")
    assert coordinator.has("Saved the changes", "Devan Patel", "a new invitation to")
    after = demo.hub.account(dev.account_id)
    assert after.name == "Devan Patel"
    assert after.email == "Devan.Patel@demo.school"
    assert after.sites == ("hub", "primary", "test-maker")
    assert demo.outbox("Devan.Patel@demo.school", "invitation")


def test_edit_refuses_a_taken_address_and_asks_again(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say(f"edit {DEV}")
    coordinator.press("Email")
    coordinator.say("GRACE.mensah@demo.school")
    assert coordinator.has("already used by another hub account", "What should the email")
    coordinator.say("not an address")
    assert coordinator.has("not a valid email address")


def test_edit_an_admin_by_an_admin_is_refused(demo, admin) -> None:  # type: ignore[no-untyped-def]
    admin.say(f"edit {BEN}")
    assert admin.has("Admins can edit teachers' details and their own")
    assert admin.state["step"] == "account"


def test_edit_with_no_real_change_says_nothing_changed(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say(f"edit {GRACE}")
        coordinator.press("Name")
        coordinator.say("Grace Mensah")
        coordinator.press("Review")
        coordinator.press("Save changes")
    assert coordinator.has("Nothing was changed", "already has those details")


# ------------------------------------------------------------ admin / unadmin
def test_admin_gives_and_unadmin_removes_admin_rights(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("admin grace")
    assert coordinator.has("Give ", "Grace Mensah", " admin rights?")
    assert demo.account(GRACE).role is Role.TEACHER
    coordinator.press("Give admin rights")
    assert coordinator.has("now has admin rights")
    assert demo.account(GRACE).role is Role.ADMIN
    coordinator.say(f"unadmin {GRACE}")
    coordinator.press("Remove admin rights")
    assert coordinator.has("no longer has admin rights")
    assert demo.account(GRACE).role is Role.TEACHER


def test_admin_for_someone_already_admin_is_refused(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say(f"admin {AMIRA}")
        assert coordinator.has("Amira Haddad", "already has admin rights") and coordinator.final
        coordinator.say(f"unadmin {GRACE}")
        assert coordinator.has("has no admin rights to remove")


def test_unadmin_of_the_coordinator_is_refused_by_rule_10(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say(f"unadmin {COORDINATOR}")
    assert coordinator.has("You can't remove the admin rights of yourself")
    assert "Remove admin rights" not in coordinator.buttons


def test_admins_cannot_give_or_remove_admin_rights(demo, admin) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        admin.say(f"admin {GRACE}")
        assert admin.has("Only the centre's coordinator can give admin rights") and admin.final
        admin.say(f"unadmin {BEN}")
        assert admin.has("Only the centre's coordinator can remove admin rights")


# ------------------------------------------------------------------- suspend
def test_suspend_then_restore(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("suspend")
    assert coordinator.has("Which account do you want to suspend?")
    coordinator.say(GRACE)
    assert coordinator.has("Suspend ", "Grace Mensah", "<grace.mensah@demo.school>?")
    assert demo.account(GRACE).active
    coordinator.press("Suspend")
    assert coordinator.has("is suspended and can no longer log in")
    assert demo.account(GRACE).status is Status.SUSPENDED
    coordinator.say("restore grace")
    coordinator.press("Restore")
    assert coordinator.has("is active again")
    assert demo.account(GRACE).active


def test_suspend_refusals(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say(f"suspend {COORDINATOR}")
        assert coordinator.has("You can't suspend yourself through the chat")
        coordinator.say("cancel")
        admin.say(f"suspend {COORDINATOR}")
        assert admin.has("You can't suspend the centre's coordinator")
        admin.say("cancel")
        coordinator.say(f"suspend {FARID}")
        assert coordinator.has("Farid Nasser", "is already suspended")


def test_restore_of_an_active_account_is_refused(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say(f"restore {DEV}")
    assert coordinator.has("is not suspended; nothing to restore")


# ------------------------------------------------------------------ transfer
def test_transfer_chooses_the_site_when_both_hold_data(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say(f"transfer {FARID}")
    assert coordinator.has("holds Progression Test data on two sites")
    assert coordinator.buttons == [
        "Cambridge Primary support site (1)",
        "Cambridge Lower Secondary support site (1)",
        "Cancel",
    ]
    coordinator.press("Cambridge Lower Secondary support site (1)")
    # eligible only: active, same centre, lower-secondary access, not Farid
    assert [b.split(" <")[0] for b in coordinator.buttons if "<" in b] == [
        "Amira Haddad",
        "Ben Okafor",
        "Cora Ordinator",
        "Eun-ji Park",
    ]
    coordinator.press("Ben Okafor")
    assert coordinator.has("Move 1 Progression Test record(s)", "from ", "Farid", "to ", "Ben")
    assert data_sites(demo, FARID) == {"primary": 1, "lower-secondary": 1}
    coordinator.press("Transfer")
    assert coordinator.has("Moved 1 record(s)", "still holds 1 on the Cambridge Primary")
    assert data_sites(demo, FARID) == {"primary": 1}
    assert data_sites(demo, BEN) == {"lower-secondary": 1}
    coordinator.press("Transfer the rest")
    names = [b.split(" <")[0] for b in coordinator.buttons if "<" in b]
    assert names == ["Amira Haddad", "Chloé Martin", "Cora Ordinator", "Dev Patel", "Grace Mensah"]
    coordinator.say(GRACE)  # typed instead of pressed
    coordinator.press("Transfer")
    assert coordinator.final and coordinator.has("Moved 1 record(s)")
    assert data_sites(demo, FARID) == {}
    assert data_sites(demo, GRACE) == {"primary": 1}


def test_transfer_target_list_leaves_out_suspended_accounts(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    demo.hub.suspend(Actor(demo.account(COORDINATOR).account_id, "t"), demo.account(DEV).account_id)
    coordinator.say(f"transfer {CHLOE}")  # one site only: no site question
    assert coordinator.has("Move 2 record(s) on the Cambridge Primary support site")
    names = [b.split(" <")[0] for b in coordinator.buttons if "<" in b]
    assert names == ["Amira Haddad", "Cora Ordinator", "Grace Mensah"]


def test_transfer_to_an_ineligible_account_is_refused(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say(f"transfer {CHLOE}")
        coordinator.say(BEN)  # no primary access
        assert coordinator.has("can't receive it", "Choose another")
        coordinator.say(FARID)  # suspended
        assert coordinator.has("can't receive it")
        coordinator.say(CHLOE)  # the owner
        assert coordinator.has("can't receive it")
        assert coordinator.state["step"] == "target"


def test_transfer_of_an_account_without_data_says_so(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say(f"transfer {GRACE}")
    assert coordinator.has("holds no Progression Test data; nothing to move") and coordinator.final


def test_transfer_pages_a_long_target_list(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    demo.add_teachers(10)
    coordinator.say(f"transfer {CHLOE}")
    assert coordinator.has("Page 1 of 2") and "Next" in coordinator.buttons
    coordinator.press("Next")
    assert coordinator.has("Page 2 of 2") and "Previous" in coordinator.buttons


# -------------------------------------------------------------------- delete
def test_delete_an_active_account_is_refused_and_offers_suspend(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say(f"delete {GRACE}")
        assert coordinator.has("Only a suspended account can be deleted", "is active")
    coordinator.press("Suspend first")
    assert coordinator.has("Suspend ", "Grace Mensah")
    coordinator.press("Suspend")
    assert demo.account(GRACE).status is Status.SUSPENDED


def test_delete_a_suspended_account_asks_twice_naming_it(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    demo.hub.suspend(
        Actor(demo.account(COORDINATOR).account_id, "t"), demo.account(GRACE).account_id
    )
    grace_id = demo.account(GRACE).account_id
    coordinator.say("delete")
    coordinator.say("grace")
    assert coordinator.has("Delete ", "Grace Mensah", "cannot be undone")
    coordinator.press("Delete")
    assert coordinator.has("Last check: delete ", "Grace Mensah", "<grace.mensah@demo.school>")
    assert coordinator.buttons[0] == "Yes, delete Grace Mensah"
    assert demo.hub.account(grace_id) is not None
    coordinator.press("Yes, delete Grace Mensah")
    assert coordinator.has("Grace Mensah", "was deleted")
    assert demo.hub.account(grace_id) is None
    assert demo.hub.account_by_email(GRACE) is None


def test_delete_with_data_offers_transfer_then_carries_on(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    farid_id = demo.account(FARID).account_id
    coordinator.say(f"delete {FARID}")
    assert coordinator.has("still owns Progression Test data", "must move")
    assert demo.hub.account(farid_id) is not None
    coordinator.press("Transfer data first")
    coordinator.press("Cambridge Primary support site (1)")
    coordinator.press("Dev Patel")
    coordinator.press("Transfer")
    coordinator.press("Transfer the rest")
    coordinator.press("Eun-ji Park")
    coordinator.press("Transfer")
    assert coordinator.has("Moved 1 record(s)", "Delete ", "Farid Nasser")
    assert coordinator.state["name"] == "delete"
    coordinator.press("Delete")
    coordinator.press("Yes, delete Farid Nasser")
    assert coordinator.has("was deleted")
    assert demo.hub.account(farid_id) is None
    assert data_sites(demo, DEV) == {"primary": 2}
    assert data_sites(demo, EUNJI) == {"lower-secondary": 2}


def test_delete_refused_for_an_admin_and_on_oneself(demo, coordinator, admin) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        admin.say(f"delete {FARID}")
        assert admin.has("Only the centre's coordinator can delete accounts") and admin.final
        coordinator.say(f"delete {COORDINATOR}")
        assert coordinator.has("You can't delete yourself")


# --------------------------------------------------------------------- reset
def test_reset_of_a_pending_invitation_resends_it(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say(f"reset {GRACE}")
    assert coordinator.has("has not set a password yet: resend the invitation")
    before = len(demo.outbox(GRACE, "invitation"))
    coordinator.press("Resend invitation")
    assert coordinator.has("The invitation was sent again to grace.mensah@demo.school")
    assert len(demo.outbox(GRACE, "invitation")) == before + 1


def test_reset_of_an_active_account_emails_a_reset_link(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    demo.set_password(GRACE)
    coordinator.say(f"reset {GRACE}")
    assert coordinator.has("Email a link to reset Grace Mensah's password")
    coordinator.press("Send reset link")
    assert coordinator.has("password reset link (valid for 1 hour) was emailed")
    assert len(demo.outbox(GRACE, "password reset")) == 1


def test_reset_of_a_suspended_account_is_refused(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say(f"reset {FARID}")
    assert coordinator.has("is suspended; restore the account before resetting")


def test_a_teacher_resets_their_own_password_only(demo, teacher) -> None:  # type: ignore[no-untyped-def]
    demo.set_password(CHLOE)
    with demo.unchanged():
        teacher.say(f"reset {DEV}")
        assert teacher.has("Teachers can only reset their own password") and teacher.final
        teacher.say("reset Dev Patel")
        assert teacher.has("Teachers can only reset their own password") and teacher.final
    teacher.say("reset CHLOE.martin@demo.school")
    assert teacher.has("Email a link to reset your password")
    teacher.say("cancel")
    teacher.say("reset")
    assert teacher.has("Email a link to reset your password to ", "chloe.martin@demo.school")
    teacher.press("Send reset link")
    assert len(demo.outbox(CHLOE, "password reset")) == 1
    assert not demo.outbox(DEV, "password reset")


# --------------------------------------------------------------------- audit
def test_audit_pages_the_latest_changes(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    demo.clock.advance(minutes=1)
    coordinator.say(f"suspend {GRACE}")
    coordinator.press("Suspend")
    coordinator.say("audit")
    assert coordinator.has("Latest changes, page 1 of 2")
    assert coordinator.last[0].text.splitlines()[1].endswith("suspend grace.mensah@demo.school")
    assert "via console:" in coordinator.text
    assert coordinator.buttons == ["Next"]
    coordinator.press("Next")
    assert coordinator.has(
        "page 2 of 2", "create centre DEMO01", "suspend farid.nasser@demo.school"
    )
    coordinator.press("Previous")
    assert coordinator.has("page 1 of 2")
    coordinator.say("Next")  # typed label
    assert coordinator.has("page 2 of 2")


def test_audit_is_for_coordinator_and_admins(demo, admin, teacher) -> None:  # type: ignore[no-untyped-def]
    admin.say("audit")
    assert admin.has("Latest changes")
    teacher.say("audit")
    assert teacher.has("Only the coordinator and admins can see the audit log") and teacher.final


# ----------------------------------------------------------------------- me
def test_me_shows_the_own_card_with_reset(demo, teacher) -> None:  # type: ignore[no-untyped-def]
    teacher.say("me")
    assert teacher.has("Chloé Martin", "Role: teacher", "Progression Test data: 2 on")
    assert teacher.buttons == ["Reset my password"]
    teacher.press("Reset my password")
    assert teacher.has("resend the invitation to ", "chloe.martin@demo.school")
    teacher.press("Resend invitation")
    assert teacher.has("The invitation was sent again")


def test_me_of_an_unlinked_chat_asks_to_link(demo) -> None:  # type: ignore[no-untyped-def]
    replies = demo.engine.handle(Person("telegram", "77", None), Text("me"))
    assert "not linked" in replies[0].text


# -------------------------------------------------------------------- snooze
def test_snooze_a_suspended_account(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("snooze farid")
    assert coordinator.has("out of the daily reminders for 7 days?")
    coordinator.press("Snooze 7 days")
    assert coordinator.has("will not appear in reminders until")
    farid = demo.account(FARID)
    assert farid.snoozed_until is not None
    assert (farid.snoozed_until - demo.clock()).days == 7


def test_snooze_an_active_account_is_refused(demo, coordinator, teacher) -> None:  # type: ignore[no-untyped-def]
    with demo.unchanged():
        coordinator.say(f"snooze {GRACE}")
        assert coordinator.has("is not suspended; there is nothing to snooze")
        teacher.say(f"snooze {FARID}")
        assert teacher.final and "Farid" not in teacher.text


# ---------------------------------------------------- link / verify / unlink
@pytest.mark.parametrize("frontend", ["telegram"])
def test_link_verify_and_unlink(demo, frontend) -> None:  # type: ignore[no-untyped-def]
    engine = demo.engine
    unlinked = Person(frontend, "4242", None)

    def say(person, text):  # type: ignore[no-untyped-def]
        return "\n".join(r.text for r in engine.handle(person, Text(text)))

    said = say(unlinked, "link nobody@nowhere.org")
    same = say(Person(frontend, "4243", None), f"link {GRACE}")
    assert said == same  # never reveals whether the address exists
    assert say(unlinked, "12").startswith("The code is 6 digits")
    codes = demo.link_codes(GRACE)
    assert len(codes) == 1
    wrong = "000000" if codes[0] != "000000" else "111111"
    said = say(Person(frontend, "4243", None), wrong)
    assert "That code is not right. 4 tries left." in said
    assert demo.hub.linked_account(frontend, "4243") is None
    said = say(Person(frontend, "4243", None), codes[0])
    assert "This chat is now linked to Grace Mensah" in said
    grace = demo.hub.linked_account(frontend, "4243")
    assert grace is not None and grace.email == GRACE
    linked = Person(frontend, "4243", grace.account_id)
    assert "Unlink this chat" in say(linked, "unlink")
    replies = engine.handle(linked, Text("Unlink"))
    assert "no longer linked" in replies[0].text
    assert demo.hub.linked_account(frontend, "4243") is None


def test_link_is_not_offered_on_the_console(demo, coordinator) -> None:  # type: ignore[no-untyped-def]
    coordinator.say("link")
    assert coordinator.has("I don't know")
