"""What Slack's HTTP mode must refuse or do only once: forged and stale
signatures, retried events, double-clicked buttons; and what a stranger, a
suspended account or another centre's coordinator may see."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from bot.slack.dedupe import TABLE as PROCESSED
from bot.slack.identity import NOT_A_HUB_USER, SUSPENDED
from bot.slack.render import escape
from handlers.engine import STALE_BUTTON
from hub import Actor, NewAccount
from hub.schema import AUDIT

from .conftest import Bot, FakeSlack, SlackUser, start_bot, stop_bot

DEMO_PEOPLE = (
    "amira.haddad@demo.school",
    "Amira",
    "ben.okafor@demo.school",
    "Chloé",
    "dev.patel@demo.school",
    "Farid",
    "Grace Mensah",
    "coordinator@demo.school",
)


def _mrkdwn_texts(api: FakeSlack, calls: list[Any] | None = None) -> list[str]:
    """Every string the bot sent that Slack parses as mrkdwn: message texts
    and mrkdwn text objects (plain_text labels are never parsed)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and "text" in node:
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for call in calls if calls is not None else api.calls:
        if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            found.append(call.params.get("text", ""))
        if call.method == "response_url":
            found.append(call.params.get("text", ""))
        walk(call.params.get("blocks") or call.params.get("view") or [])
    return found


# ---------------------------------------------------------- signatures
def test_forged_or_stale_signatures_get_401_and_nothing_happens(
    bot: Bot, cora: SlackUser, contents: Any
) -> None:
    before = contents(bot.app.store)
    calls = len(bot.api.calls)
    forged = cora.slash("suspend amira.haddad@demo.school", secret="not-the-secret")
    stale = cora.slash("suspend amira.haddad@demo.school", timestamp=int(time.time()) - 6 * 60)
    future = cora.slash("suspend amira.haddad@demo.school", timestamp=int(time.time()) + 6 * 60)
    unsigned = bot.http.post(bot.url, content=b"text=help", headers={"content-type": "x"})
    event = cora.say("suspend amira.haddad@demo.school", secret="not-the-secret")
    assert [r.status_code for r in (forged, stale, future, unsigned, event)] == [401] * 5
    bot.settle()
    assert bot.api.calls[calls:] == []  # not even users.info
    assert contents(bot.app.store) == before  # no delivery claimed, no conversation


def test_a_correct_signature_is_accepted(bot: Bot, cora: SlackUser) -> None:
    assert cora.slash("help").status_code == 200
    assert "What would you like to do?" in cora.last_text()


# ------------------------------------------------------------- retries
def test_a_retried_event_is_processed_once_even_after_a_restart(
    tmp_path: Path, api: FakeSlack
) -> None:
    bot = start_bot(tmp_path / "data", api)
    try:
        cora = bot.user("UCORA", "coordinator@demo.school")
        cora.say("show amira.haddad@demo.school", event_id="Ev0RETRY1")
        assert len(api.posted()) == 1
        again = cora.say(
            "show amira.haddad@demo.school",
            event_id="Ev0RETRY1",
            headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"},
        )
        assert again.status_code == 200
        assert len(api.posted()) == 1
    finally:
        stop_bot(bot)
    bot = start_bot(tmp_path / "data", api)  # the claim survives a restart
    try:
        cora = bot.user("UCORA", "coordinator@demo.school")
        cora.say(
            "show amira.haddad@demo.school",
            event_id="Ev0RETRY1",
            headers={"x-slack-retry-num": "2", "x-slack-retry-reason": "http_timeout"},
        )
        assert len(api.posted()) == 1
        assert bot.app.store.get(PROCESSED, "event:Ev0RETRY1") is not None
    finally:
        stop_bot(bot)


def test_a_double_clicked_button_is_applied_once(bot: Bot, cora: SlackUser) -> None:
    dev = bot.app.hub.account_by_email("dev.patel@demo.school")
    assert dev is not None
    cora.slash("suspend dev.patel@demo.school")
    prompt = cora.last()
    audits = bot.app.store.count(AUDIT)
    # Two clicks a moment apart: two deliveries, each its own action_ts.
    threads = [
        threading.Thread(target=cora.press, args=("Suspend", prompt), kwargs={"settle": False})
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bot.settle()
    assert not bot.app.hub.account(dev.account_id).active
    suspends = [d for d in bot.app.store.scan(AUDIT) if d["action"] == "suspend"]
    assert bot.app.store.count(AUDIT) == audits + 1
    assert [d["target"] for d in suspends].count("dev.patel@demo.school") == 1
    texts = cora.bot.api.texts(cora.dm)
    assert sum("is suspended and can no longer log in" in t for t in texts) == 1
    assert sum(t == escape(STALE_BUTTON) for t in texts) == 1


def test_the_same_press_delivered_twice_is_dropped(bot: Bot, cora: SlackUser) -> None:
    cora.slash("suspend grace.mensah@demo.school")
    prompt = cora.last()
    cora.press("Suspend", prompt, action_ts="1760000001.123456")
    posted = len(bot.api.posted())
    again = cora.press("Suspend", prompt, action_ts="1760000001.123456")
    assert again.status_code == 200
    assert len(bot.api.posted()) == posted  # not even "that button was already used"


# ---------------------------------------------------------- identities
def test_an_unknown_slack_user_sees_no_data(bot: Bot, api: FakeSlack) -> None:
    stranger = bot.user("USTRANGER", "someone@elsewhere.org")
    nobody = bot.user("UNOMAIL", None)
    gone = SlackUser(bot, "UGONE")  # users.info: user_not_found
    for person in (stranger, nobody, gone):
        start = len(api.calls)
        person.slash("users")
        person.slash("show amira.haddad@demo.school")
        person.say("show amira.haddad@demo.school")
        person.say("help")
        person.mention("users everyone")
        home = person.open_home()
        said = json.dumps([c.params for c in api.calls[start:] if c.method != "users.info"])
        for secret in DEMO_PEOPLE:
            assert secret not in said
        assert escape(NOT_A_HUB_USER) in said
        assert escape(NOT_A_HUB_USER) in json.dumps(home)
        assert not [b for b in home["blocks"] if b["type"] == "actions"]
    assert not [d for d in bot.app.store.scan("conversations") if "UNOMAIL" in d["_key"]]


def test_a_suspended_account_gets_only_an_explanation(bot: Bot, api: FakeSlack) -> None:
    farid = bot.user("UFARID", "farid.nasser@demo.school")  # suspended in the demo
    start = len(api.calls)
    farid.say("me")
    farid.slash("me")
    said = json.dumps([c.params for c in api.calls[start:] if c.method != "users.info"])
    assert escape(SUSPENDED) in said
    assert "Stage 5 Mathematics" not in said and "lower-secondary" not in said


def test_a_profile_email_is_matched_after_normalisation(bot: Bot) -> None:
    cora = bot.user("UCORA2", "Coordinator@DEMO.school")
    cora.say("me")
    assert "*Cora Ordinator*" in cora.last_text()


def test_another_centres_coordinator_sees_none_of_this_centres_accounts(
    bot: Bot, api: FakeSlack
) -> None:
    hub = bot.app.hub
    _, olga = hub.create_centre("GB777", "Other School", "Olga Other", "olga@other.school")
    hub.add_accounts(
        Actor(olga.account_id, "test"),
        [NewAccount("Otto Other", "otto@other.school", False, ("primary",))],
    )
    olga_user = bot.user("UOLGA", "olga@other.school")
    start = len(api.calls)
    olga_user.slash("show chloe.martin@demo.school")
    assert "no account with that email address in your centre" in olga_user.last_text()
    olga_user.slash("suspend amira.haddad@demo.school")
    assert "no account with that email address in your centre" in olga_user.last_text()
    olga_user.slash("users")
    listing = olga_user.last()
    olga_user.slash("find a")
    olga_user.slash("transfer chloe")
    home = olga_user.open_home()
    said = json.dumps([c.params for c in api.calls[start:] if c.method != "users.info"])
    for secret in DEMO_PEOPLE[:-1]:
        assert secret not in said
    assert "Otto Other" in json.dumps(listing["blocks"])
    counts = {f["text"] for b in home["blocks"] for f in b.get("fields", [])}
    assert counts == {
        "*Active*\n2",
        "*Suspended*\n0",
        "*Pending deletion*\n0",
        "*Invitations pending*\n2",
    }
    assert hub.account_by_email("amira.haddad@demo.school").active


# ------------------------------------------------------------- escaping
def test_channel_mentions_and_links_in_a_name_are_escaped(bot: Bot, cora: SlackUser) -> None:
    hostile = "<!channel> *Eve* <https://evil.example|click>"
    cora.slash("add")
    view = list(bot.api.views.values())[-1]
    cora.submit(view, name=hostile, email="eve@demo.school", sites=["forums"])
    eve = bot.app.hub.account_by_email("eve@demo.school")
    assert eve is not None and eve.name == hostile  # stored as typed
    cora.slash("find eve")
    cora.say("show eve@demo.school")
    cora.say("cancel")
    cora.say("add")
    cora.say("<!here> & Co")  # typed: Slack sends &lt;!here&gt; &amp; Co
    texts = _mrkdwn_texts(bot.api)
    joined = "\n".join(texts)
    assert "&lt;!channel&gt;" in joined and "&lt;https://evil.example|click&gt;" in joined
    assert "&lt;!here&gt; &amp;amp; Co" not in joined  # typed text is unescaped once
    assert "&lt;!here&gt; &amp; Co" in joined
    for text in texts:
        assert "<!" not in text and "<http" not in text
        assert "*Eve*" not in text  # no formatting from the name either
    # Button labels are plain_text, which Slack never parses: the name is kept as typed.
    labels = json.dumps([m["blocks"] for m in cora.messages()])
    assert "eve@demo.school" in labels
