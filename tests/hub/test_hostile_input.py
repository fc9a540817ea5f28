"""Hostile and odd input at the hub's door: names and addresses are refused
with a clear reason, odd-but-valid ones are kept exactly, and a bad row never
half-applies anything."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import Conflict, Invalid, NewAccount
from hub.validation import MAX_NAME, check_email, check_name, email_key


@pytest.mark.parametrize(
    "name,reason",
    [
        ("", "Please give the person's name."),
        ("   \t ", "Please give the person's name."),
        ("x" * 201, "too long (at most 100"),
        ("Jane " + "y" * 100, "too long"),
        ("Jane\nDoe", "control characters or line breaks"),
        ("Jane\r\nBcc: evil@example.org", "control characters or line breaks"),
        ("Jane\x00Doe", "control characters"),
        ("Jane\x07", "control characters"),
        ("Jane\tDoe", "control characters"),
        ("Jane\x1b[31mDoe", "control characters"),
        ("Jane\u0085Doe", "control characters"),  # NEL
        ("Jane\u202eeoD", "control characters"),  # right-to-left override
        ("Jane\u2066Doe\u2069", "control characters"),
        ("Jane\ud800Doe", "control characters"),  # lone surrogate
        ("Jane\ue000Doe", "control characters"),  # private use
    ],
)
def test_bad_names_are_refused_with_a_reason_and_nothing_is_created(
    centre, unchanged, name, reason
) -> None:  # type: ignore[no-untyped-def]
    with unchanged():
        outcome = centre.hub.add_accounts(
            centre.actor("admin"), [NewAccount(name, "jane@riverside.school")]
        )
    assert outcome.created == []
    assert reason in outcome.refused[0][1]
    with unchanged(), pytest.raises(Invalid, match="name"):
        centre.hub.edit_account(centre.actor("admin"), centre.teacher.account_id, name=name)


@pytest.mark.parametrize(
    "name,kept",
    [
        ("Zoë O'Brien-Smith", "Zoë O'Brien-Smith"),
        ("  Jean   Paul  ", "Jean Paul"),
        ("李小龍", "李小龍"),
        ("Ναταλία Παπαδοπούλου", "Ναταλία Παπαδοπούλου"),
        ("محمد الأحمد", "محمد الأحمد"),
        ("<b>Bold</b> & @channel", "<b>Bold</b> & @channel"),  # escaping is each front end's job
        ('=HYPERLINK("http://x")', '=HYPERLINK("http://x")'),  # CSV export neutralises
        ("x" * MAX_NAME, "x" * MAX_NAME),
        ("Emoji 🙂 Person", "Emoji 🙂 Person"),
        ("‍Joiner\u200dName", "‍Joiner\u200dName"),  # a zero-width joiner is text
    ],
)
def test_odd_but_valid_names_are_kept_as_typed(centre, name, kept) -> None:  # type: ignore[no-untyped-def]
    outcome = centre.hub.add_accounts(
        centre.actor("admin"), [NewAccount(name, "odd@riverside.school")]
    )
    assert [a.name for a in outcome.created] == [kept]
    assert centre.hub.account_by_email("odd@riverside.school").name == kept


@pytest.mark.parametrize(
    "email,stored",
    [
        ("o'brien@riverside.school", "o'brien@riverside.school"),
        ("first+tag@riverside.school", "first+tag@riverside.school"),
        ("Mixed.Case@RIVERSIDE.SCHOOL", "Mixed.Case@riverside.school"),
        ("jürgen@müller.de", "jürgen@müller.de"),
        ("jurgen@xn--mller-kva.de", "jurgen@müller.de"),
        ("用户@例子.广告", "用户@例子.广告"),
        ("  padded@riverside.school\t", "padded@riverside.school"),
    ],
)
def test_odd_but_valid_addresses_are_normalised_once(centre, email, stored) -> None:  # type: ignore[no-untyped-def]
    outcome = centre.hub.add_accounts(centre.actor("admin"), [NewAccount("Odd Address", email)])
    assert [a.email for a in outcome.created] == [stored]
    # Found again by any spelling of the same address.
    for spelling in {email, email.upper(), unicodedata.normalize("NFD", email), stored}:
        assert centre.hub.account_by_email(spelling) is not None, spelling


def test_lookups_never_raise_on_garbage(centre) -> None:  # type: ignore[no-untyped-def]
    for garbage in ("", "@", "a@b", "\x00", "x" * 10_000, "tess@riverside.school\n" * 3):
        assert centre.hub.account_by_email(garbage) is None


def test_a_batch_of_hostile_rows_creates_only_the_valid_ones(centre, contents) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    before = contents(hub.store)
    rows = [
        NewAccount("Valid One", "valid1@riverside.school", False, ("primary",)),
        NewAccount("Bad\nName", "bad1@riverside.school"),
        NewAccount("x" * 300, "bad2@riverside.school"),
        NewAccount("Bad Mail", "bad3@@riverside.school"),
        NewAccount("Valid Two", "valid2@riverside.school"),
        NewAccount("Dup", "VALID2@riverside.school"),
        NewAccount("Bad Site", "bad4@riverside.school", False, ("primary", "<script>")),
    ]
    outcome = hub.add_accounts(centre.actor("coordinator"), rows)
    assert [a.email for a in outcome.created] == [
        "valid1@riverside.school",
        "valid2@riverside.school",
    ]
    refused = [d.email for d, _ in outcome.refused]
    assert refused == [
        "bad1@riverside.school",
        "bad2@riverside.school",
        "bad3@@riverside.school",
        "VALID2@riverside.school",
        "bad4@riverside.school",
    ]
    after = contents(hub.store)
    new_accounts = set(after["accounts"]) - set(before["accounts"])
    assert {after["accounts"][k]["email"] for k in new_accounts} == {
        "valid1@riverside.school",
        "valid2@riverside.school",
    }
    new_mail = [
        after["outbox"][k]["to_email"] for k in set(after["outbox"]) - set(before["outbox"])
    ]
    assert sorted(new_mail) == ["valid1@riverside.school", "valid2@riverside.school"]
    new_audit = [after["audit"][k] for k in set(after["audit"]) - set(before["audit"])]
    assert sorted(e["target"] for e in new_audit) == sorted(new_mail) and all(
        e["action"] == "add" for e in new_audit
    )


def test_hostile_centres_are_refused(hub, unchanged) -> None:  # type: ignore[no-untyped-def]
    for centre_id, name, email in [
        ("", "School", "a@school.org"),
        ("G", "School", "a@school.org"),
        ("GB 001", "School", "a@school.org"),
        ("GB001;DROP", "School", "a@school.org"),
        ("X" * 21, "School", "a@school.org"),
        ("GB001", "School\nInjected: yes", "a@school.org"),
        ("GB001", "School", "not-an-address"),
        ("GB001", "", "a@school.org"),
    ]:
        with unchanged(), pytest.raises(Invalid):
            hub.create_centre(centre_id, name, "Coordinator Name", email)
    hub.create_centre("gb001", "School", "Cora C", "a@school.org")
    with unchanged(), pytest.raises(Conflict, match="already exists"):
        hub.create_centre("GB001", "School", "Cora D", "b@school.org")
    with unchanged(), pytest.raises(Conflict, match="already used"):
        hub.create_centre("GB002", "School", "Cora E", "A@School.org")


# --------------------------------------------------------------- properties
@settings(max_examples=150, deadline=None)
@given(st.text(max_size=150))
def test_any_text_is_either_a_clean_name_or_refused(text: str) -> None:
    try:
        name = check_name(text)
    except Invalid as exc:
        assert exc.message.endswith(".") and "\n" not in exc.message
        return
    assert 1 <= len(name) <= MAX_NAME
    assert name == name.strip() and "  " not in name
    assert not any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in name)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.emails() | st.text(max_size=80))
def test_any_text_is_either_a_stable_address_or_refused(text: str) -> None:
    try:
        email = check_email(text)
    except Invalid as exc:
        assert exc.message.endswith(".") or exc.message.endswith(")")
        assert "\n" not in exc.message
        return
    assert check_email(email) == email  # normalising twice changes nothing
    assert email_key(check_email(email.upper())) == email_key(email)
    assert not any(unicodedata.category(ch)[0] == "C" for ch in email)


# ------------------------------------ finding by address: quick path == library
def _by_library(hub, typed: str):  # type: ignore[no-untyped-def]
    from hub.schema import ACCOUNTS
    from hub.validation import lookup_key

    key = lookup_key(typed)
    docs = hub.store.lookup(ACCOUNTS, "email_key", key) if key else []
    return docs[0]["_key"] if docs else None


STORED = ["tess@riverside.school", "jürgen@müller.de", "o'brien+x@riverside.school"]
TYPED = [
    "tess@riverside.school",
    "TESS@RIVERSIDE.SCHOOL",
    "  Tess@Riverside.School\t",
    "tess＠riverside.school",  # full-width at-sign: refused by the library
    "tess@riverside.school.",
    "tess @riverside.school",
    '"tess"@riverside.school',
    "tess@riverside.school\x00",
    "JÜRGEN@müller.de",
    "jürgen@xn--mller-kva.de",
    unicodedata.normalize("NFD", "jürgen@müller.de"),
    "O'BRIEN+X@riverside.school",
    "",
    "@",
]


@pytest.mark.parametrize("typed", TYPED)
def test_finding_by_address_agrees_with_the_email_library(centre, typed) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    boss = centre.actor("coordinator")
    hub.add_accounts(boss, [NewAccount(f"Person {i}", e) for i, e in enumerate(STORED[1:])])
    found = hub.account_by_email(typed)
    assert (found.account_id if found else None) == _by_library(hub, typed)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.sampled_from(TYPED)
    | st.emails().map(str.upper)
    | st.text(alphabet="tesTES@.riverschol＠\u0301 ", max_size=30)
)
def test_any_typed_address_finds_what_the_library_finds(centre, typed: str) -> None:  # type: ignore[no-untyped-def]
    found = centre.hub.account_by_email(typed)
    assert (found.account_id if found else None) == _by_library(centre.hub, typed)
