"""The Slack front end's own behaviour: where answers go, the App Home tab,
tick boxes, CSV files, rate limits, failures, Socket Mode deliveries, and the
FrontEnd protocol (push, find_chat, mounts)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from slack_bolt import BoltRequest

from bot.app import open_app
from bot.config import ConfigError, load
from bot.reminders import DigestSender
from bot.runner import build_engine
from bot.slack import create as create_slack
from bot.slack.adapter import ANSWERED_IN_DM, FILE_FAILED, SORRY
from bot.slack.dedupe import TABLE as PROCESSED
from bot.slack.render import escape
from handlers.replies import Button, Reply, b, line
from hub.schema import OUTBOX

from .conftest import BOT_TOKEN, SIGNING_SECRET, TEAM, Bot, Failure, FakeSlack, SlackUser


# ---------------------------------------------------- answers in private
def test_a_mention_in_a_channel_is_answered_in_a_direct_message(bot: Bot, cora: SlackUser) -> None:
    cora.mention("show amira.haddad@demo.school", channel="CGENERAL")
    assert {p["channel"] for p in bot.api.posted()} == {cora.dm}
    assert "*Amira Haddad*" in cora.last_text()
    (note,) = bot.api.called("chat.postEphemeral")
    assert note.params["channel"] == "CGENERAL" and note.params["user"] == "UCORA"
    assert note.params["text"] == escape(ANSWERED_IN_DM)
    assert "amira" not in json.dumps(note.params).lower()


def test_a_slash_command_in_a_channel_answers_in_the_dm(bot: Bot, cora: SlackUser) -> None:
    cora.slash("show amira.haddad@demo.school", channel="CGENERAL")
    assert "*Amira Haddad*" in cora.last_text()
    (note,) = bot.api.called("response_url")
    assert note.params == {"text": ANSWERED_IN_DM, "response_type": "ephemeral"}
    cora.slash("me")  # from the DM itself: no note
    assert len(bot.api.called("response_url")) == 1


def test_typed_addresses_arrive_as_mailto_links_and_are_read_as_typed(
    bot: Bot, cora: SlackUser
) -> None:
    cora.say("suspend ben.okafor@demo.school")  # sent as <mailto:…|…>, as Slack does
    assert "Suspend *Ben Okafor*" in cora.last_text()
    cora.say("Cancel")  # typing a button's label presses it
    assert "Cancelled 'suspend'" in cora.last_text()


def test_messages_that_are_not_typed_by_a_person_are_ignored(bot: Bot, cora: SlackUser) -> None:
    for event in (
        {"subtype": "message_changed"},
        {"bot_id": "BHUB"},
        {"subtype": "channel_join"},
        {"channel_type": "channel"},
    ):
        cora.event(
            {
                "type": "message",
                "channel": cora.dm,
                "channel_type": "im",
                "user": "UCORA",
                "text": "help",
                "ts": f"{time.time():.6f}",
                **event,
            }
        )
    assert bot.api.posted() == []


# -------------------------------------------------------------- App Home
def test_the_home_tab_shows_the_centre_counts_and_opens_the_form(bot: Bot, cora: SlackUser) -> None:
    counts = bot.app.hub.counts("DEMO01")
    assert counts["pending_deletion"] == 1  # Farid, suspended ten days ago
    home = cora.open_home()
    fields = {f["text"] for block in home["blocks"] for f in block.get("fields", [])}
    assert fields == {
        f"*Active*\n{counts['active']}",
        f"*Suspended*\n{counts['suspended']}",
        f"*Pending deletion*\n{counts['pending_deletion']}",
        f"*Invitations pending*\n{counts['invitations_pending']}",
    }
    labels = [
        e["text"]["text"]
        for block in home["blocks"]
        for e in block.get("elements", [])
        if "value" in e
    ]
    assert labels == [
        "Add an account",
        "Find accounts",
        "Suspended accounts",
        "Invitations pending",
        "Audit log",
        "Help",
    ]
    cora.press_home("Add an account")
    (opened,) = bot.api.called("views.open")
    assert opened.params["view"]["callback_id"] == "hub_add_account"
    cora.press_home("Suspended accounts")
    assert "Farid Nasser" in json.dumps(cora.last()["blocks"])


def test_a_teachers_home_tab_has_only_their_own_buttons(bot: Bot) -> None:
    dev = bot.user("UDEV", "dev.patel@demo.school")
    home = dev.open_home()
    assert not [b for b in home["blocks"] if b.get("fields")]
    labels = [
        e["text"]["text"] for b in home["blocks"] for e in b.get("elements", []) if "value" in e
    ]
    assert labels == ["My account", "Reset my password", "Help"]
    dev.press_home("My account")
    assert "*Dev Patel*" in dev.last_text()


def test_only_the_coordinator_is_asked_about_admin_rights_in_the_form(bot: Bot) -> None:
    amira = bot.user("UAMIRA", "amira.haddad@demo.school")  # an admin
    amira.slash("add Kim Lee kim.lee@demo.school")
    (opened,) = bot.api.called("views.open")
    view = opened.params["view"]
    assert [b["block_id"] for b in view["blocks"]] == ["name", "email", "sites"]
    assert view["blocks"][0]["element"]["initial_value"] == "Kim Lee"
    assert view["blocks"][1]["element"]["initial_value"] == "kim.lee@demo.school"
    refused = amira.submit(view, name="Kim Lee", email="kim.lee@demo.school", admin=True)
    assert refused.json()["errors"] == {"admin": "Only the coordinator can give admin rights."}
    dev = bot.user("UDEV", "dev.patel@demo.school")  # a teacher: no form at all
    dev.slash("add")
    assert len(bot.api.called("views.open")) == 1
    (refusal,) = bot.api.called("response_url")  # answered where it was asked, privately
    assert "Only the coordinator and admins can add accounts" in refusal.params["text"]


# ------------------------------------------------------------- tick boxes
def test_tick_boxes_are_sent_with_the_done_press(bot: Bot, cora: SlackUser) -> None:
    cora.say("add")
    cora.say("Kim Lee")
    cora.say("kim.lee@demo.school")
    cora.press("No, a teacher")
    sites = cora.last()
    assert "Which support sites" in sites["text"]
    posted = len(bot.api.posted())
    cora.tick("Test Maker", sites)
    cora.tick("Online discussion forums", sites)
    cora.tick("Test Maker", sites)  # unticked again
    cora.tick("Results Analysis", sites)
    assert len(bot.api.posted()) == posted  # ticking is the client's business
    cora.press("Done", sites)
    assert "sites: School Support Hub, Results Analysis, Online discussion forums" in (
        cora.last_text()
    )
    cora.press("Review and confirm")
    cora.press("Add 1 account(s)")
    kim = bot.app.hub.account_by_email("kim.lee@demo.school")
    assert kim is not None and kim.sites == ("hub", "results-analysis", "forums")


def test_done_on_an_old_tick_message_is_refused(bot: Bot, cora: SlackUser) -> None:
    cora.say("add Kim Lee kim.lee@demo.school")
    cora.press("No, a teacher")
    sites = cora.last()
    cora.tick("Test Maker", sites)
    cora.press("Done", sites)
    cora.press("Done", sites)  # the same old message again
    assert escape("That button belongs to an earlier message") in bot.api.texts(cora.dm)[-2]


# ------------------------------------------------------------------ files
def test_a_csv_file_sent_during_import_is_read(bot: Bot, cora: SlackUser) -> None:
    bot.api.files["people.csv"] = (
        b"name,email,admin,sites\nKim Lee,kim.lee@demo.school,no,primary\n"
        b"Bad Row,not-an-address,no,\n"
    )
    cora.say("import")

    def share(url: str, name: str = "people.csv") -> None:
        cora.event(
            {
                "type": "message",
                "subtype": "file_share",
                "channel": cora.dm,
                "channel_type": "im",
                "user": "UCORA",
                "text": "",
                "ts": f"{time.time():.6f}",
                "files": [
                    {
                        "id": "F1",
                        "name": name,
                        "filetype": "csv",
                        "mimetype": "text/csv",
                        "size": 90,
                        "url_private_download": url,
                    }
                ],
            }
        )

    share("https://evil.example/people.csv")  # the bot token never goes elsewhere
    assert cora.last_text() == escape(FILE_FAILED)
    share(f"{bot.api.url}/files/people.csv")
    assert "2 row(s) read; 1 can be added" in cora.last_text()
    assert "Kim Lee" in cora.last_text()
    cora.press("Add 1 account(s)")
    assert bot.app.hub.account_by_email("kim.lee@demo.school") is not None


# ----------------------------------------------------- Slack's Web API
def test_a_rate_limited_call_is_retried_after_retry_after(bot: Bot, cora: SlackUser) -> None:
    bot.api.fail_next(
        "chat.postMessage",
        Failure(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}),
    )
    cora.slash("me")
    first, second = bot.api.called("chat.postMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0
    assert "*Cora Ordinator*" in cora.last_text()


def test_slack_answering_500_for_a_while_delays_the_reply_without_doubling_it(
    bot: Bot, cora: SlackUser
) -> None:
    for status in (500, 503, 500):
        bot.api.fail_next(
            "chat.postMessage", Failure(status, {"ok": False, "error": "internal_error"})
        )
    cora.slash("suspend ben.okafor@demo.school")
    calls = bot.api.called("chat.postMessage")
    assert [c.status for c in calls] == [500, 503, 500, 200]
    assert calls[-1].at - calls[0].at >= 0.5 + 1 + 2  # a growing pause between tries
    cora.press("Suspend")
    texts = bot.api.texts(cora.dm)
    assert sum("is suspended and can no longer log in" in t for t in texts) == 1
    ben = bot.app.hub.account_by_email("ben.okafor@demo.school")
    assert ben is not None and not ben.active


def test_a_failing_listener_is_logged_and_the_user_told(
    bot: Bot, cora: SlackUser, caplog: pytest.LogCaptureFixture
) -> None:
    bot.api.fail_next("chat.postMessage", Failure(200, {"ok": False, "error": "fatal_error"}))
    with caplog.at_level(logging.ERROR, logger="bot.slack"):
        response = cora.slash("me")
    assert response.status_code == 200  # Slack got its acknowledgement
    assert "Slack listener failed" in caplog.text
    assert cora.last_text() == escape(SORRY)


def test_slack_unreachable_for_identity_asks_to_try_again(bot: Bot, cora: SlackUser) -> None:
    bot.api.fail_next("users.info", Failure(200, {"ok": False, "error": "internal_error"}))
    cora.say("me")
    assert "couldn't check who you are" in cora.last_text()
    cora.say("me")
    assert "*Cora Ordinator*" in cora.last_text()


# ------------------------------------------------------------ Socket Mode
def test_socket_mode_deliveries_are_deduplicated_too(bot: Bot, cora: SlackUser) -> None:
    envelope = {
        "team_id": TEAM,
        "api_app_id": "AHUB",
        "type": "event_callback",
        "event_id": "Ev0SOCKET1",
        "event": {
            "type": "message",
            "channel": cora.dm,
            "channel_type": "im",
            "user": "UCORA",
            "text": "me",
            "ts": "1.0",
        },
    }
    for retry in (None, 1):
        headers = {"x-slack-retry-num": str(retry)} if retry else None
        request = BoltRequest(mode="socket_mode", body=envelope, headers=headers)
        assert bot.frontend.bolt.dispatch(request).status == 200
        bot.settle()
    assert len(bot.api.posted()) == 1


def test_socket_mode_needs_no_http_mount(tmp_path: Path, api: FakeSlack) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-1", "SLACK_API_URL": api.url}
    app = open_app(load(environ=env, env_file=None, data_dir=tmp_path))
    try:
        frontend = create_slack(app, build_engine(app))
        assert frontend.socket_mode and frontend.http_mounts() == {}
        assert not frontend.healthy()
    finally:
        app.close()


def test_http_mode_without_a_signing_secret_is_refused(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN}
    app = open_app(load(environ=env, env_file=None, data_dir=tmp_path))
    try:
        with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
            create_slack(app, build_engine(app))
    finally:
        app.close()


def test_a_refused_token_is_one_clear_error_at_start(tmp_path: Path, api: FakeSlack) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-wrong",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api.url + "/api",
    }
    app = open_app(load(environ=env, env_file=None, data_dir=tmp_path))
    try:
        frontend = create_slack(app, build_engine(app))
        with pytest.raises(ConfigError, match=r"refused SLACK_BOT_TOKEN \(not_authed\)"):
            frontend.start()
    finally:
        app.close()


def test_while_stopping_slack_is_asked_to_deliver_again_later(bot: Bot, cora: SlackUser) -> None:
    bot.frontend.stop()
    refused = cora.say("me", event_id="Ev0LATE")
    assert refused.status_code == 503
    assert bot.app.store.get(PROCESSED, "event:Ev0LATE") is None  # the retry will be handled
    assert bot.api.posted() == []


# ------------------------------------------------------ push, find_chat
def test_push_and_find_chat_for_reminder_digests(bot: Bot, cora: SlackUser) -> None:
    assert bot.frontend.find_chat("coordinator@demo.school") == "UCORA"
    assert bot.frontend.find_chat("nobody@demo.school") is None
    digest = Reply(
        (line("Suspended accounts waiting: ", b("<!channel> Farid")),),
        (Button("Restore", "lnotreal", "choice"),),
    )
    bot.frontend.push("UCORA", [digest])
    assert cora.last_text() == "Suspended accounts waiting: *&lt;!channel&gt; Farid*"
    bot.api.fail_next("chat.postMessage", Failure(200, {"ok": False, "error": "fatal_error"}))
    with pytest.raises(Exception, match="fatal_error"):
        bot.frontend.push("UCORA", [digest])


def test_an_invitation_from_the_form_wakes_the_mailer(bot: Bot, cora: SlackUser) -> None:
    woken = []
    bot.frontend.adapter.core.engine.on_change = lambda: woken.append(True)
    cora.slash("add")
    view = list(bot.api.views.values())[-1]
    cora.submit(view, name="Kim Lee", email="kim.lee@demo.school")
    assert woken
    assert [d for d in bot.app.store.scan(OUTBOX) if d["to_email"] == "kim.lee@demo.school"]


def test_the_endpoint_takes_posts_of_reasonable_size_only(bot: Bot) -> None:
    assert bot.http.get(bot.url).status_code == 405
    huge = bot.http.post(bot.url, content=b"x" * (1024 * 1024 + 1))
    assert huge.status_code == 413
    assert bot.api.calls == [c for c in bot.api.calls if c.method == "auth.test"]


def test_a_reminder_digest_reaches_slack_and_its_buttons_stay_usable(
    bot: Bot, cora: SlackUser
) -> None:
    sender = DigestSender(bot.app.hub, bot.frontend.adapter.core.engine, {"slack": bot.frontend})
    report = sender.run(bot.app.hub.now().date())
    assert any("by slack" in sent for sent in report.sent), report.lines()
    digest = cora.last()
    assert "Farid Nasser" in digest["text"]
    assert ("slack", "UCORA") in bot.app.hub.chats_of(
        bot.app.hub.account_by_email("coordinator@demo.school").account_id
    )
    cora.press("Transfer data of Farid Nasser", digest)
    assert "two sites" in cora.last_text()
    cora.say("cancel")
    # The digest keeps its buttons: they start conversations, days later too.
    kept = bot.api.messages[(cora.dm, digest["ts"])]
    assert [b for b in kept["blocks"] if b["type"] == "actions"]
    cora.press("Restore Farid Nasser", digest)
    assert "Restore *Farid Nasser*" in cora.last_text()
