"""Reminder digests through the real Telegram front end: one recipient who
blocked the bot never stops the others, and is tried again later."""

from __future__ import annotations

from datetime import date

from bot.reminders import DigestSender
from hub.demo import DEMO_COORDINATOR as COORDINATOR

ADMIN = "amira.haddad@demo.school"


def test_one_blocked_recipient_does_not_stop_the_others(api, hub_app, bot, linked) -> None:  # type: ignore[no-untyped-def]
    linked(4401, "Cora Ordinator", COORDINATOR)
    linked(4402, "Amira Haddad", ADMIN)
    hub = hub_app.hub
    sender = DigestSender(hub, bot.core.engine, {"telegram": bot}, remind_after_days=7)
    day = date(2026, 3, 2)
    mark = api.mark()
    api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")  # Cora's
    report = sender.run(day)
    assert any("Cora Ordinator" in f for f in report.failed)
    assert any("Amira Haddad" in s and "telegram" in s for s in report.sent)
    assert any("Ben Okafor" in s and "email" in s for s in report.sent)  # no chat: email
    to_amira = [c for c in api.calls_since(mark, "sendMessage") if c.params["chat_id"] == 4402]
    assert len(to_amira) == 1 and "waiting for deletion" in to_amira[0].params["text"]

    again = sender.retry_failed(day)  # the scheduler's retry job, later
    assert any("Cora Ordinator" in s for s in again.sent)
    to_cora = [c for c in api.calls_since(mark, "sendMessage") if c.params["chat_id"] == 4401]
    assert to_cora[-1].status in (None, 200) and "Farid Nasser" in to_cora[-1].params["text"]
    assert sender.run(day).sent == []  # and still only one digest today
