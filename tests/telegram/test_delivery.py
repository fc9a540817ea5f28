"""What Telegram itself throws at a bot: repeated updates, double taps, 429
answers, a refused optional call, groups, files, markup in names."""

from __future__ import annotations

import logging
import time

import pytest

from bot.reminders import digest_reply
from bot.telegram.adapter import FILE_TOO_LARGE, FILE_TYPE, NOT_UNDERSTOOD, PRIVATE_ONLY
from bot.telegram.updates import TABLE
from hub.schema import AUDIT

from .conftest import BOT_ID, TgUser

COORDINATOR = "coordinator@demo.school"
DEV = "dev.patel@demo.school"


def _audit(store, action: str, target: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [d for d in store.scan(AUDIT) if d["action"] == action and d["target"] == target]


def test_an_update_delivered_twice_is_processed_once(api, hub_app, bot, linked) -> None:  # type: ignore[no-untyped-def]
    cora = linked(4301, "Cora Ordinator", COORDINATOR)
    cora.send(f"/suspend {DEV}")
    out = cora.press("Suspend")
    assert "Dev Patel is suspended" in out.text
    press = cora.last_update
    mark = api.mark()
    api.deliver_again(press)  # the same update_id, e.g. a lost confirmation
    assert bot.finished.wait_for(press["update_id"], 10, times=2)
    assert api.calls_since(mark, "sendMessage", "answerCallbackQuery") == []
    assert len(_audit(hub_app.store, "suspend", DEV)) == 1
    assert hub_app.store.get(TABLE, f"{BOT_ID}:{press['update_id']}") is not None


def test_an_update_seen_before_a_restart_is_not_processed_again(
    api, hub_app, bot, start_bot, linked
) -> None:  # type: ignore[no-untyped-def]
    cora = linked(4302, "Cora Ordinator", COORDINATOR)
    out = cora.send("/users")
    assert "Page 1" in out.text
    seen = cora.last_update
    bot.stop()
    again = start_bot(hub_app)
    cora = TgUser(api, again, 4302, "Cora Ordinator")
    mark = api.mark()
    api.deliver_again(seen)
    assert again.finished.wait_for(seen["update_id"], 10)
    assert api.calls_since(mark, "sendMessage") == []
    assert "Page 1" in cora.send("/users").text  # and the restarted bot answers new ones


def test_a_button_pressed_twice_is_applied_once(api, hub_app, linked) -> None:  # type: ignore[no-untyped-def]
    cora = linked(4303, "Cora Ordinator", COORDINATOR)
    cora.send(f"suspend {DEV}")
    first, second = cora.press_update("Suspend"), cora.press_update("Suspend")
    first, second = api.push(first), api.push(second)  # a double tap: one batch
    for update in (first, second):
        assert cora.frontend.finished.wait_for(update["update_id"], 10)
    texts = [m.text for m in api.chat(4303)]
    assert sum("Dev Patel is suspended" in t for t in texts) == 1
    assert any("already used; nothing was done" in t for t in texts)
    assert len(_audit(hub_app.store, "suspend", DEV)) == 1
    assert len(api.called("answerCallbackQuery")) == 2  # both spinners stopped


@pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")  # raised inside PTB
def test_a_429_is_waited_out_and_the_message_arrives(api, bot, user_factory) -> None:  # type: ignore[no-untyped-def]
    user = user_factory(4304, "Someone")
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    out = user.send("/start")
    attempts = [c for c in out.calls if c.method == "sendMessage"]
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert "Welcome to the School Support Hub bot" in out.text


def test_a_refused_set_my_commands_logs_one_warning_and_the_bot_runs_on(
    api, hub_app, start_bot, caplog
) -> None:  # type: ignore[no-untyped-def]
    api.always_fail("setMyCommands", 400, "Bad Request: not allowed here")
    caplog.set_level(logging.WARNING)
    frontend = start_bot(hub_app)
    cora = TgUser(api, frontend, 4305, "Cora Ordinator")
    cora.send(f"/link {COORDINATOR}")
    from .conftest import emailed_code

    assert "now linked" in cora.send(emailed_code(hub_app, COORDINATOR)).text
    assert "Page 1" in TgUser(api, frontend, 4305, "Cora").send("/users").text
    assert len(api.called("setMyCommands")) >= 2
    warnings = [r for r in caplog.records if "command menu" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert frontend.healthy()


def test_groups_get_one_word_and_nothing_else(api, bot) -> None:  # type: ignore[no-untyped-def]
    group = {"id": -1001234, "type": "supergroup", "title": "Staff room"}
    sender = {"id": 4306, "is_bot": False, "first_name": "Cora"}
    ids = []
    for text in ("/users", "/help"):
        update = api.push(
            {
                "message": {
                    "message_id": api.new_update_id(),
                    "date": int(time.time()),
                    "chat": group,
                    "from": sender,
                    "text": text,
                    "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
                }
            }
        )
        ids.append(update["update_id"])
    for update_id in ids:
        assert bot.finished.wait_for(update_id, 10)
    sent = [c for c in api.called("sendMessage") if c.params["chat_id"] == -1001234]
    assert [c.params["text"] for c in sent] == [PRIVATE_ONLY]


def test_cancel_ends_a_conversation_and_says_when_there_is_none(linked) -> None:  # type: ignore[no-untyped-def]
    cora = linked(4307, "Cora Ordinator", COORDINATOR)
    cora.send("/add")
    cora.send("Half Way")
    assert "Cancelled 'add'; nothing was changed" in cora.send("/cancel").text
    assert "nothing to cancel" in cora.send("/cancel").text


def test_a_name_with_markup_shows_as_typed(api, linked) -> None:  # type: ignore[no-untyped-def]
    cora = linked(4308, "Cora Ordinator", COORDINATOR)
    cora.send("/add")
    name = "<b>x</b> & <script>"
    out = cora.send(name)
    assert f"What is {name}'s email address?" in out.text  # shown literally
    sent = [c for c in out.calls if c.method == "sendMessage"][-1].params["text"]
    assert "&lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;" in sent and "<script>" not in sent
    cora.send("markup@demo.school")
    cora.press("No, a teacher")
    cora.press("Done")
    cora.press("Review and confirm")
    out = cora.press("Add 1 account(s)")
    assert f"- {name} <markup@demo.school>" in out.text
    out = cora.send("/find markup")
    assert any(name in label for m in out.sent for label in m.labels()) or name in out.text
    assert all(c.status == 200 for c in api.calls if c.method == "sendMessage")


def test_a_csv_sent_during_import_is_read(api, hub_app, linked) -> None:  # type: ignore[no-untyped-def]
    cora = linked(4309, "Cora Ordinator", COORDINATOR)
    out = cora.upload("early.csv", b"name,email\n")
    assert "send 'import' first" in out.text
    cora.send("/import")
    csv = (
        "name,email,admin,sites\n"
        "Zoë Import,zoe@demo.school,no,primary;forums\n"
        "Bad Row,not-an-email,no,primary\n"
    ).encode("utf-8-sig")  # as Excel saves "CSV UTF-8"
    out = cora.upload("people.csv", csv)
    assert "2 row(s) read; 1 can be added" in out.text
    assert "getFile" in out.methods()
    out = cora.press("Add 1 account(s)")
    assert "Added 1 account(s)" in out.text
    zoe = hub_app.hub.account_by_email("zoe@demo.school")
    assert zoe is not None and zoe.name == "Zoë Import"
    assert set(zoe.sites) == {"hub", "primary", "forums"}


def test_other_files_are_refused_with_a_clear_word(api, linked) -> None:  # type: ignore[no-untyped-def]
    cora = linked(4310, "Cora Ordinator", COORDINATOR)
    cora.send("/import")
    out = cora.upload("people.xlsx", b"PK\x03\x04", "application/vnd.ms-excel")
    assert out.texts == [FILE_TYPE]
    out = cora.upload("huge.csv", b"name,email\n" + b"x" * (1024 * 1024))
    assert out.texts == [FILE_TOO_LARGE]
    assert api.called("getFile") == []  # never downloaded
    out = cora.send("Ivy Two, ivy2@demo.school, no, primary")  # still waiting for rows
    assert "1 row(s) read; 1 can be added" in out.text


def test_a_digest_is_pushed_to_a_linked_chat_and_its_buttons_work(
    api, hub_app, bot, linked
) -> None:  # type: ignore[no-untyped-def]
    cora = linked(4311, "Cora Ordinator", COORDINATOR)
    hub = hub_app.hub
    coordinator = hub.account_by_email(COORDINATOR)
    pending = hub.pending_deletion("DEMO01", 7)
    reply = digest_reply(bot.core.engine, coordinator, "Demo International School", pending)
    bot.push("4311", [reply])
    digest = api.chat(4311)[-1]
    assert "waiting for deletion" in digest.text and "Farid Nasser" in digest.text
    out = cora.press("Restore Farid Nasser")
    assert "Restore Farid Nasser" in out.text


def test_push_works_without_a_running_bot(api, hub_app, linked, start_bot) -> None:  # type: ignore[no-untyped-def]
    from bot.telegram.frontend import local
    from handlers.conversations import all_conversations
    from handlers.engine import Engine

    idle = local(hub_app, Engine(hub_app.hub, all_conversations()))
    from handlers.replies import Reply, line

    mark = api.mark()
    idle.push("4312", [Reply((line("A digest for you"),))])
    sent = api.calls_since(mark, "sendMessage")
    assert [c.params["chat_id"] for c in sent] == [4312]
    assert not idle.healthy()


def test_health_follows_polling(bot) -> None:  # type: ignore[no-untyped-def]
    assert bot.healthy()
    bot.stop()
    assert not bot.healthy()


def test_turning_a_page_edits_the_message_in_place(linked) -> None:  # type: ignore[no-untyped-def]
    cora = linked(4313, "Cora Ordinator", COORDINATOR)
    out = cora.send("/audit")
    [page] = [m for m in out.sent if "Next" in m.labels()]
    first = page.text
    out = cora.press("Next")
    assert out.sent == [] and out.edited == [page]
    assert page.text != first and "page 2 of" in page.text and "Previous" in page.labels()


def test_photos_get_a_word_and_service_messages_nothing(api, bot, user_factory) -> None:  # type: ignore[no-untyped-def]
    user = user_factory(4314, "Pat")
    photo = [{"file_id": "p1", "file_unique_id": "up1", "width": 10, "height": 10}]
    out = user.deliver({"message": user.message(photo=photo)}, "[sends a photo]")
    assert out.texts == [NOT_UNDERSTOOD]
    out = user.deliver({"message": user.message(pinned_message=None, new_chat_title="x")}, "[..]")
    assert out.sent == []


def test_telegram_unreachable_at_start_is_retried(api, hub_app, start_bot, caplog) -> None:  # type: ignore[no-untyped-def]
    api.fail_next("getMe", 502, "Bad Gateway")
    caplog.set_level(logging.WARNING)
    frontend = start_bot(hub_app, retry_start_every=0.2)  # returns after the first try
    assert any("not reachable" in r.getMessage() for r in caplog.records)
    api.wait_for(lambda: frontend.healthy() or None, timeout=10)
    user = TgUser(api, frontend, 4315, "Late")
    assert "Welcome" in user.send("/start").text


def test_stop_right_after_start(hub_app, start_bot) -> None:  # type: ignore[no-untyped-def]
    frontend = start_bot(hub_app, start_wait=0)
    frontend.stop()
    assert not frontend.healthy() and not frontend.running
