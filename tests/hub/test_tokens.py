"""Set-password links (rules 2 and 8, SPEC "Set-password page"): random,
single use, expiring, stored as hashes, the old one dead after a resend; and
the password policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from hub import Hub, Invalid, LinkInvalid, NewAccount, reminders
from hub.passwords import LINK_INVALID, verify_password
from hub.schema import ACCOUNTS, AUDIT, LINK_CODES, TOKENS
from hub.tokens import digest


def invite(centre, email: str = "nia@riverside.school", name: str = "Nia Nwosu"):  # type: ignore[no-untyped-def]
    outcome = centre.hub.add_accounts(centre.actor("coordinator"), [NewAccount(name, email)])
    return outcome.created[0]


GOOD = "Lantern-orchid-57-quartz"


def test_a_link_sets_the_password_once(centre, link_token, unchanged) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    account = invite(centre)
    raw = link_token(hub.store, account.email)
    done = hub.set_password(raw, GOOD)
    assert done.has_password and not done.invitation_pending
    stored = hub.store.get(ACCOUNTS, account.account_id)["password_hash"]
    assert stored.startswith("$argon2id$") and GOOD not in stored
    assert verify_password(stored, GOOD) and not verify_password(stored, GOOD + "x")
    for attempt in (
        lambda: hub.set_password(raw, "Another-fine-pass-99"),
        lambda: hub.check_link(raw),
    ):
        with unchanged(), pytest.raises(LinkInvalid) as caught:
            attempt()
        assert caught.value.message == LINK_INVALID
    actions = [d["action"] for d in hub.store.scan(AUDIT) if d["target"] == account.email]
    assert sorted(actions) == ["accept invitation", "add"]
    assert not any("password_hash" in str(d) for d in hub.store.scan(AUDIT))


@pytest.mark.parametrize(
    "raw",
    ["", "x", "A" * 43, "token with spaces", "../../etc/passwd", "%00", "é" * 50, "x" * 5000],
)
def test_unknown_links_get_the_same_answer(centre, unchanged, raw) -> None:  # type: ignore[no-untyped-def]
    with unchanged(), pytest.raises(LinkInvalid) as caught:
        centre.hub.check_link(raw)
    assert caught.value.message == LINK_INVALID
    with unchanged(), pytest.raises(LinkInvalid):
        centre.hub.set_password(raw, GOOD)


def test_tokens_are_random_and_stored_only_as_hashes(centre, link_token) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    raws = {link_token(hub.store, email) for email in centre.accounts}
    assert len(raws) == 6 and all(len(r) >= 43 for r in raws)  # 256 random bits each
    keys = {d["_key"] for d in hub.store.scan(TOKENS)}
    assert {digest(r) for r in raws} <= keys
    assert not raws & keys
    assert not any(r in str(d) for r in raws for d in hub.store.scan(TOKENS))


def test_invitation_expires_after_seven_days(centre, link_token, clock, unchanged) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    account = invite(centre)
    raw = link_token(hub.store, account.email)
    clock.advance(days=7, seconds=-1)
    assert hub.check_link(raw).kind == "invitation"
    clock.advance(seconds=1)
    with unchanged(), pytest.raises(LinkInvalid):
        hub.set_password(raw, GOOD)
    assert centre.fresh(account).invitation_pending
    # "can be resent": a new link works again for seven days
    hub.reset_password(centre.actor("admin"), account.account_id)
    fresh = link_token(hub.store, account.email)
    clock.advance(days=6)
    assert hub.set_password(fresh, GOOD).has_password


def test_expiry_with_the_real_clock_under_time_machine(store) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        hub = Hub(store, public_url="https://hub.example.org")  # the default clock
        hub.create_centre("TM001", "Clockwork School", "Tim Clock", "tim@tm.school")
        from hub.outbox import all_emails

        text = all_emails(store)[0].text
        raw = text.split("token=")[1].split()[0]
        assert hub.check_link(raw).account_name == "Tim Clock"
    with time_machine.travel(start + timedelta(days=6, hours=23), tick=False):
        assert hub.check_link(raw).kind == "invitation"
    with (
        time_machine.travel(start + timedelta(days=7, microseconds=1), tick=False),
        pytest.raises(LinkInvalid),
    ):
        hub.check_link(raw)


def test_reset_link_lasts_one_hour_and_a_new_one_kills_the_old(centre, link_token, clock) -> None:  # type: ignore[no-untyped-def]
    hub, tess = centre.hub, centre.teacher
    hub.set_password(link_token(hub.store, tess.email), GOOD)
    hub.reset_password(centre.actor("teacher"), tess.account_id)  # her own
    first = link_token(hub.store, tess.email)
    clock.advance(minutes=10)
    hub.reset_password(centre.actor("coordinator"), tess.account_id)
    second = link_token(hub.store, tess.email)
    with pytest.raises(LinkInvalid):
        hub.check_link(first)
    clock.advance(minutes=59, seconds=59)
    assert hub.check_link(second).kind == "reset"
    clock.advance(seconds=1)
    with pytest.raises(LinkInvalid):
        hub.set_password(second, "Completely-new-pass-77")
    # The old password still works: nothing changed.
    stored = hub.store.get(ACCOUNTS, tess.account_id)["password_hash"]
    assert verify_password(stored, GOOD)


def test_setting_a_password_kills_every_other_link(centre, link_token, clock) -> None:  # type: ignore[no-untyped-def]
    hub, tess = centre.hub, centre.teacher
    invitation = link_token(hub.store, tess.email)
    hub.set_password(invitation, GOOD)
    hub.reset_password(centre.actor("coordinator"), tess.account_id)
    reset = link_token(hub.store, tess.email)
    hub.set_password(reset, "Second-lantern-orchid-58")
    assert not [
        t for t in hub.store.scan(TOKENS) if t["account_id"] == tess.account_id and not t["used_at"]
    ]


def test_changing_a_pending_accounts_address_sends_a_new_invitation(centre, link_token) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    account = invite(centre, "nia@wrong.school")
    old = link_token(hub.store, "nia@wrong.school")
    _, emailed = hub.edit_account(
        centre.actor("admin"), account.account_id, email="nia@riverside.school"
    )
    assert emailed == ["a new invitation to nia@riverside.school"]
    with pytest.raises(LinkInvalid):  # the mistyped address's link is dead
        hub.check_link(old)
    assert hub.check_link(link_token(hub.store, "nia@riverside.school")).kind == "invitation"


def test_a_suspended_or_deleted_accounts_link_is_refused(centre, link_token) -> None:  # type: ignore[no-untyped-def]
    hub, boss = centre.hub, centre.actor("coordinator")
    account = invite(centre)
    raw = link_token(hub.store, account.email)
    hub.suspend(boss, account.account_id)
    with pytest.raises(LinkInvalid):
        hub.check_link(raw)
    hub.delete(boss, account.account_id)
    with pytest.raises(LinkInvalid):
        hub.set_password(raw, GOOD)


@pytest.mark.parametrize(
    "password,problem",
    [
        ("short-1A", "at least 12 characters"),
        ("", "at least 12 characters"),
        ("password1234", "too common"),
        ("Password1234", "too common"),
        ("1q2w3e4r2023", "too common"),
        ("Qwerty123456!", "too common"),
        ("nwosu-lantern-99", "name or email"),
        ("NIA.NWOSU.is-great", "name or email"),
        ("my riverside.school pw", None),  # the domain alone is not personal
        ("x" * 257, "at most 256"),
    ],
)
def test_password_policy(centre, link_token, unchanged, password, problem) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    account = invite(centre)
    raw = link_token(hub.store, account.email)
    if problem is None:
        assert hub.set_password(raw, password).has_password
        return
    with unchanged(), pytest.raises(Invalid, match=problem):
        hub.set_password(raw, password)
    assert hub.check_link(raw).kind == "invitation"  # a refused password leaves the link usable


def test_every_policy_problem_is_given_at_once(centre, link_token) -> None:  # type: ignore[no-untyped-def]
    account = invite(centre, "longname@riverside.school", "Longname Person")
    with pytest.raises(Invalid) as caught:
        centre.hub.set_password(link_token(centre.hub.store, account.email), "longname")
    assert "at least 12" in caught.value.message and "name or email" in caught.value.message


def test_housekeeping_forgets_dead_tokens_and_link_codes_and_keeps_live_ones(  # type: ignore[no-untyped-def]
    centre, clock, monkeypatch
) -> None:
    hub = centre.hub
    invite(centre)
    invitations = hub.store.count(TOKENS)  # Nia's and the centre's own
    hub.request_link_code("telegram", "100", "nia@riverside.school")
    clock.advance(hours=2)
    hub.request_link_code("telegram", "200", "nia@riverside.school")
    assert hub.purge_expired() == 1  # chat 100's code, long expired
    assert hub.store.get(LINK_CODES, "telegram:100") is None
    assert hub.store.get(LINK_CODES, "telegram:200") is not None  # asked for just now
    assert hub.store.count(TOKENS) == invitations  # still good
    clock.advance(days=60)
    monkeypatch.setattr(reminders, "PURGE_BATCH", 1)  # one per transaction: every batch runs
    assert hub.purge_expired() == invitations + 1  # expired, and the other code
    assert hub.store.count(TOKENS) == 0 and hub.store.count(LINK_CODES) == 0
    assert hub.purge_expired() == 0


def test_housekeeping_keeps_a_link_code_asked_for_again_while_it_looked(  # type: ignore[no-untyped-def]
    centre, clock, monkeypatch
) -> None:
    """The tables are read without the store's lock: a code found stale
    there and asked for again before the deletion is checked again, and
    stays."""
    hub = centre.hub
    invite(centre)
    hub.request_link_code("telegram", "100", "nia@riverside.school")
    clock.advance(hours=2)
    scan = hub.store.scan

    def scan_then_ask_again(table: str):  # type: ignore[no-untyped-def]
        found = list(scan(table))
        if table == LINK_CODES:  # meanwhile, in another chat's turn
            hub.request_link_code("telegram", "100", "nia@riverside.school")
        return found

    monkeypatch.setattr(hub.store, "scan", scan_then_ask_again)
    assert hub.purge_expired() == 0
    assert hub.store.get(LINK_CODES, "telegram:100") is not None
