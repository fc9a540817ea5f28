"""Linking a Telegram chat: codes, lockout, what an unlinked chat may see, and
links that stop the moment their account is suspended."""

from __future__ import annotations

from hub import Actor

COORDINATOR = "coordinator@demo.school"
AMIRA = "amira.haddad@demo.school"  # admin
DEV = "dev.patel@demo.school"  # teacher


def _commands(api, chat_id: int) -> set[str]:  # type: ignore[no-untyped-def]
    calls = [
        c
        for c in api.called("setMyCommands")
        if c.params.get("scope", {}).get("chat_id") == chat_id
    ]
    return {c["command"] for c in calls[-1].params["commands"]}


def test_an_unlinked_chat_sees_only_the_help_to_link(api, bot, user_factory) -> None:  # type: ignore[no-untyped-def]
    stranger = user_factory(900, "Stranger")
    for typed in ("/users", "find chloe", "show chloe.martin@demo.school", "/audit", "/me"):
        out = stranger.send(typed)
        assert "not linked to a hub account yet" in out.text, typed
        assert "demo.school" not in out.text.replace("jane@school.org", "")
        assert all(not m.labels() for m in out.sent)
    default = [c for c in api.called("setMyCommands") if c.params["scope"]["type"] == "default"]
    assert {c["command"] for c in default[0].params["commands"]} == {"help", "link", "verify"}


def test_the_link_answer_never_says_whether_the_address_exists(bot, user_factory) -> None:  # type: ignore[no-untyped-def]
    known = user_factory(901, "Known").send(f"/link {COORDINATOR}")
    unknown = user_factory(902, "Unknown").send("/link nobody@nowhere.example")
    assert known.text == unknown.text


def test_wrong_codes_then_lockout(hub_app, bot, user_factory, code_for) -> None:  # type: ignore[no-untyped-def]
    user = user_factory(903, "Amira Haddad")
    user.send(f"/link {AMIRA}")
    right = code_for(AMIRA)
    wrong = "000000" if right != "000000" else "111111"
    out = user.send("12ab")
    assert "6 digits" in out.text
    for left in (4, 3, 2, 1):
        out = user.send(wrong)
        assert f"{left} tries left" in out.text
    out = user.send(wrong)
    assert "locked for this chat for 15 minutes" in out.text
    out = user.send(f"/verify {right}")  # even the right code, now
    assert "locked" in out.text
    out = user.send(f"/link {AMIRA}")
    assert "locked" in out.text
    assert hub_app.hub.linked_account("telegram", "903") is None
    out = user.send("/users")
    assert "not linked" in out.text


def test_a_teacher_gets_a_teachers_menu(api, linked) -> None:  # type: ignore[no-untyped-def]
    linked(904, "Dev Patel", DEV)
    commands = _commands(api, 904)
    assert {"me", "reset", "help", "unlink", "cancel"} <= commands
    assert not commands & {"add", "delete", "suspend", "transfer", "audit"}


def test_a_suspended_accounts_link_stops_at_once(api, hub_app, linked) -> None:  # type: ignore[no-untyped-def]
    amira = linked(905, "Amira Haddad", AMIRA)
    out = amira.send("/users")
    assert "Page 1" in out.text
    hub = hub_app.hub
    coordinator = hub.account_by_email(COORDINATOR)
    hub.suspend(Actor(coordinator.account_id, "test"), hub.account_by_email(AMIRA).account_id)
    out = amira.send("/users")
    assert "not linked to a hub account yet" in out.text and "Page" not in out.text
    assert _commands(api, 905) == {"help", "link", "verify"}  # the menu followed


def test_unlink(hub_app, linked) -> None:  # type: ignore[no-untyped-def]
    cora = linked(906, "Cora Ordinator", COORDINATOR)
    out = cora.send("/unlink")
    out = cora.press("Unlink")
    assert "no longer linked" in out.text
    assert hub_app.hub.linked_account("telegram", "906") is None
    assert "not linked" in cora.send("/users").text
