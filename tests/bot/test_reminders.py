"""Reminder digests (SPEC "Reminders"): what is listed, to whom, once a day,
the make-up run, DST, snooze, and the buttons a digest carries."""

from __future__ import annotations

import email
import io
import threading
from datetime import UTC, date, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
import time_machine

from bot.app import open_app
from bot.config import load
from bot.console import ConsoleFrontEnd, ConsoleRenderer
from bot.mailer import Mailer
from bot.reminders import DigestSender, digest_reply
from bot.scheduler import Jobs, Scheduler, daily_trigger, due_today
from handlers.conversations import all_conversations
from handlers.engine import Engine
from handlers.replies import Person, Press, Text
from hub import Actor, NewAccount
from hub.demo import ensure_demo

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _app(data_dir: Path, **env: str):  # type: ignore[no-untyped-def]
    return open_app(load(environ=env, env_file=None, data_dir=data_dir))


@pytest.fixture
def app(tmp_path: Path):  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False):
        application = _app(tmp_path)
        ensure_demo(application.hub)
    yield application
    application.close()


def _sender(app, live=None):  # type: ignore[no-untyped-def]
    engine = Engine(app.hub, all_conversations())
    return DigestSender(app.hub, engine, {}, remind_after_days=7, live=live), engine


def _eml_bodies(data_dir: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted((data_dir / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        body = message.get_body(preferencelist=("plain",))
        found.append((str(message["To"]), body.get_content() if body else ""))
    return found


def test_digest_lists_exactly_the_accounts_suspended_long_enough(app) -> None:  # type: ignore[no-untyped-def]
    hub = app.hub
    coordinator = hub.account_by_email("coordinator@demo.school")
    actor = Actor(coordinator.account_id, "test")
    with time_machine.travel(START, tick=False):
        recent = hub.account_by_email("grace.mensah@demo.school")
        hub.suspend(actor, recent.account_id)  # suspended today: not yet pending
        pending = hub.pending_deletion("DEMO01", 7)
    assert [p.account.email for p in pending] == ["farid.nasser@demo.school"]
    assert pending[0].days_suspended == 10
    assert pending[0].data.total == 2
    with time_machine.travel(START + timedelta(days=7), tick=False):
        emails = [p.account.email for p in hub.pending_deletion("DEMO01", 7)]
    assert emails == ["farid.nasser@demo.school", "grace.mensah@demo.school"]


def test_nothing_pending_sends_nothing(tmp_path: Path) -> None:
    app = _app(tmp_path)
    try:
        app.hub.create_centre("GB1", "Quiet School", "Quinn Coordinator", "quinn@quiet.school")
        sender, _ = _sender(app)
        report = sender.run(date(2026, 3, 2))
        assert report.sent == [] and report.failed == []
        assert app.hub.digest_record("GB1", date(2026, 3, 2)) is None
        assert [e for e in app.hub.store.scan("outbox") if e["kind"] == "reminder digest"] == []
    finally:
        app.close()


def test_digest_goes_by_email_to_coordinator_and_admins_without_chats(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sender, _ = _sender(app)
    with time_machine.travel(START, tick=False):
        report = sender.run(date(2026, 3, 2))
    assert len(report.sent) == 3  # coordinator and two admins
    Mailer(app.store, app.config).deliver_due()
    digests = [(to, body) for to, body in _eml_bodies(tmp_path) if "waiting for deletion" in body]
    assert sorted(to for to, _ in digests) == [
        "Amira Haddad <amira.haddad@demo.school>",
        "Ben Okafor <ben.okafor@demo.school>",
        "Cora Ordinator <coordinator@demo.school>",
    ]
    assert all(
        "Farid Nasser <farid.nasser@demo.school>: suspended 10 days" in b for _, b in digests
    )
    assert all("Grace" not in body for _, body in digests)


def test_once_a_day_across_a_restart(tmp_path: Path) -> None:
    with time_machine.travel(START, tick=False):
        app = _app(tmp_path)
        ensure_demo(app.hub)
        sender, _ = _sender(app)
        assert len(sender.run(date(2026, 3, 2)).sent) == 3
        app.close()
        app = _app(tmp_path)  # restarted
        sender, _ = _sender(app)
        again = sender.run(date(2026, 3, 2))
        assert again.sent == [] and again.skipped
        tomorrow = sender.run(date(2026, 3, 3))
        assert len(tomorrow.sent) == 3
        app.close()


def test_two_overlapping_runs_send_one_digest(app) -> None:  # type: ignore[no-untyped-def]
    sender, _ = _sender(app)
    reports = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        reports.append(sender.run(date(2026, 3, 2)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.sent) for r in reports) == 3
    digests = [e for e in app.store.scan("outbox") if e["kind"] == "reminder digest"]
    assert len(digests) == 3


def test_make_up_run_at_start_only_when_the_time_has_passed(tmp_path: Path) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 7, 0, tzinfo=UTC), tick=False):
        app = _app(tmp_path, HUB_REMINDER_TIME="09:00")
        ensure_demo(app.hub)
        sender, _ = _sender(app)
        jobs = Jobs(app.config, app.hub, sender)
        assert jobs.make_up() is None  # 07:00: not due yet, nothing sent
    with time_machine.travel(datetime(2026, 3, 2, 11, 30, tzinfo=UTC), tick=False):
        made_up = jobs.make_up()
        assert made_up is not None and len(made_up.sent) == 3
        assert jobs.make_up().sent == []  # once only
    app.close()


def test_daily_trigger_keeps_local_time_across_dst_changes(tmp_path: Path) -> None:
    config = load(
        environ={"HUB_TIMEZONE": "Europe/London", "HUB_REMINDER_TIME": "09:00"},
        env_file=None,
        data_dir=tmp_path,
    )
    trigger = daily_trigger(config)
    for start in (datetime(2026, 3, 27, 12, tzinfo=UTC), datetime(2026, 10, 23, 12, tzinfo=UTC)):
        fire_times = []
        previous = None
        now = start
        for _ in range(6):  # a guard: never loops without end
            fire = trigger.get_next_fire_time(previous, now)
            assert fire is not None and fire > now
            fire_times.append(fire)
            previous, now = fire, fire + timedelta(seconds=1)
        local = [f.astimezone(config.tz) for f in fire_times]
        assert all((t.hour, t.minute) == (9, 0) for t in local)
        assert len({t.date() for t in local}) == 6  # one a day, none skipped or doubled
        offsets = {f.utcoffset() for f in local}
        assert len(offsets) == 2  # the change happened inside the window


def test_due_today_in_another_timezone(tmp_path: Path) -> None:
    config = load(
        environ={"HUB_TIMEZONE": "Asia/Kolkata", "HUB_REMINDER_TIME": "09:00"},
        env_file=None,
        data_dir=tmp_path,
    )
    assert due_today(config, datetime(2026, 3, 2, 3, 31, tzinfo=UTC))  # 09:01 in Kolkata
    assert not due_today(config, datetime(2026, 3, 2, 3, 29, tzinfo=UTC))


def test_snooze_hides_an_account_for_seven_days(app) -> None:  # type: ignore[no-untyped-def]
    hub = app.hub
    coordinator = hub.account_by_email("coordinator@demo.school")
    farid = hub.account_by_email("farid.nasser@demo.school")
    with time_machine.travel(START, tick=False):
        hub.snooze(Actor(coordinator.account_id, "test"), farid.account_id)
        assert hub.pending_deletion("DEMO01", 7) == []
    with time_machine.travel(START + timedelta(days=6, hours=23), tick=False):
        assert hub.pending_deletion("DEMO01", 7) == []
    with time_machine.travel(START + timedelta(days=7, minutes=1), tick=False):
        assert [p.account.email for p in hub.pending_deletion("DEMO01", 7)] == [farid.email]


def test_digest_buttons_start_conversations_with_permissions(app) -> None:  # type: ignore[no-untyped-def]
    hub = app.hub
    engine = Engine(hub, all_conversations())
    admin = hub.account_by_email("amira.haddad@demo.school")
    coordinator = hub.account_by_email("coordinator@demo.school")
    with time_machine.travel(START, tick=False):
        pending = hub.pending_deletion("DEMO01", 7)
        admin_digest = digest_reply(engine, admin, "Demo", pending)
        labels = [bt.label for bt in admin_digest.buttons]
        assert labels == [
            "Delete Farid Nasser",
            "Transfer data of Farid Nasser",
            "Restore Farid Nasser",
            "Snooze Farid Nasser 7 days",
        ]
        as_admin = Person("console", admin.account_id, admin.account_id)
        delete = admin_digest.buttons[0].token
        refused = engine.handle(as_admin, Press(delete))
        assert "Only the centre's coordinator can delete" in refused[-1].text
        restore = engine.handle(as_admin, Press(admin_digest.buttons[2].token))
        assert "Restore Farid Nasser" in restore[-1].text
        # A digest button belongs to its recipient: the coordinator can't press the admin's.
        as_coordinator = Person("console", coordinator.account_id, coordinator.account_id)
        stolen = engine.handle(as_coordinator, Press(delete))
        assert "earlier message" in stolen[-1].text
        own = digest_reply(engine, coordinator, "Demo", pending)
        started = engine.handle(as_coordinator, Press(own.buttons[0].token))
        assert "still owns Progression Test data" in started[-1].text
        assert hub.account_by_email("farid.nasser@demo.school") is not None


def test_console_session_shows_the_digest_and_its_numbers_work(app) -> None:  # type: ignore[no-untyped-def]
    coordinator = app.hub.account_by_email("coordinator@demo.school")
    out = io.StringIO()
    renderer = ConsoleRenderer()
    live = {coordinator.account_id: ConsoleFrontEnd(renderer, out)}
    sender, engine = _sender(app, live=live)
    with time_machine.travel(START, tick=False):
        sender.run(date(2026, 3, 2))
        shown = out.getvalue()
        assert "1 suspended account(s) at Demo International School" in shown
        assert "[3] Restore Farid Nasser" in shown
        person = Person("console", coordinator.account_id, coordinator.account_id)
        replies = engine.handle(person, renderer.read("3"))
        assert "Restore Farid Nasser" in replies[-1].text


def test_scheduler_fires_at_the_reminder_time_and_stops(app) -> None:  # type: ignore[no-untyped-def]
    sender, _ = _sender(app)
    scheduler = Scheduler(Jobs(app.config, app.hub, sender))
    scheduler.start()
    try:
        assert scheduler.running
        fire = scheduler.next_digest()
        assert fire is not None
        assert (fire.astimezone(app.config.tz).hour, fire.minute) == app.config.reminder_hour_minute
    finally:
        scheduler.stop()
    assert not scheduler.running


def test_tidy_forgets_used_tokens_and_idle_conversations(app) -> None:  # type: ignore[no-untyped-def]
    hub = app.hub
    engine = Engine(hub, all_conversations())
    coordinator = hub.account_by_email("coordinator@demo.school")
    person = Person("console", coordinator.account_id, coordinator.account_id)
    with time_machine.travel(START, tick=False):
        actor = Actor(coordinator.account_id, "test")
        hub.add_accounts(actor, [NewAccount("Tia Token", "tia@demo.school")])
        Mailer(app.store, app.config).deliver_due()
        engine.handle(person, Press("nothing"))
        engine.handle(person, Text("suspend"))
        assert app.store.count("conversations") == 1
        tokens_before = app.store.count("tokens")
    with time_machine.travel(START + timedelta(days=9), tick=False):
        jobs = Jobs(app.config, hub, DigestSender(hub, engine, {}), housekeeping=engine.expire_idle)
        removed = jobs.tidy()
    assert removed >= 1
    assert app.store.count("conversations") == 0
    sent = [e for e in app.store.scan("outbox") if e["state"] == "sent"]
    assert sent and all(e["text"] == "" and e["html"] == "" for e in sent)  # words forgotten
    assert app.store.count("tokens") < tokens_before  # the expired invitations went
