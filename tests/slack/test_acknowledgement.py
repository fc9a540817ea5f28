"""Slack's answer never waits for a worker: every listener acknowledges in the
thread that dispatches the request, and its work runs afterwards on the
front end's executor. Here all the executor's workers
are kept busy (the engine waits behind a gate) while Slack keeps sending."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot import metrics
from bot.slack.adapter import SORRY
from bot.slack.dedupe import TABLE as PROCESSED
from bot.slack.frontend import WORKERS
from bot.slack.render import escape
from handlers.engine import STALE_BUTTON

from .conftest import Bot, SlackUser

QUICK = 0.5  # seconds: Slack allows 3; the answer itself takes milliseconds


class Gate:
    """The engine waits here while closed (it is opened at the end anyway)."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self.opened_at = 0.0

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self.opened_at = metrics.now()
        self._open.set()

    def wait(self) -> None:
        assert self._open.wait(20), "the test never opened the gate"


@pytest.fixture
def gate(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate()
    engine = bot.frontend.adapter.core.engine
    handle = engine.handle

    def held(*args: Any, **kwargs: Any) -> Any:
        gate.wait()
        return handle(*args, **kwargs)

    monkeypatch.setattr(engine, "handle", held)
    yield gate
    gate.open()


def timed(send: Any, *args: Any, **kwargs: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send(*args, settle=False, **kwargs)
    return response, time.monotonic() - started


def occupy_every_worker(bot: Bot, gate: Gate) -> SlackUser:
    """Close the gate and give each worker a message (from a teacher, Dev)
    that waits behind it."""
    dev = bot.user("UDEV", "dev.patel@demo.school")
    gate.close()
    for _ in range(WORKERS):
        response, took = timed(dev.say, "me")
        assert response.status_code == 200 and took < QUICK
    assert not bot.frontend.wait_idle(0.2)  # the work is in flight, on our executor
    return dev


def answers_to(bot: Bot, dev: SlackUser) -> int:
    return sum("*Dev Patel*" in t for t in bot.api.texts(dev.dm))


def test_presses_are_answered_at_once_while_every_worker_is_busy(
    bot: Bot, cora: SlackUser, gate: Gate
) -> None:
    cora.slash("suspend ben.okafor@demo.school")
    prompt = cora.last()
    dev = occupy_every_worker(bot, gate)
    posted = len(bot.api.posted())
    for n in range(3):  # three clicks: three deliveries
        response, took = timed(cora.press, "Suspend", prompt, action_ts=f"1760000100.00000{n}")
        assert response.status_code == 200 and response.text == ""
        assert took < QUICK, f"press {n} was answered after {took:.2f} s"
    assert len(bot.api.posted()) == posted  # nothing done yet: the work waits its turn
    gate.open()
    bot.settle()
    texts = bot.api.texts(cora.dm)
    assert answers_to(bot, dev) == WORKERS
    assert sum("is suspended and can no longer log in" in t for t in texts) == 1
    assert sum(t == escape(STALE_BUTTON) for t in texts) == 2
    ben = bot.app.hub.account_by_email("ben.okafor@demo.school")
    assert ben is not None and not ben.active


def test_a_slash_command_and_a_home_button_are_answered_at_once_too(
    bot: Bot, cora: SlackUser, gate: Gate
) -> None:
    cora.open_home()
    dev = occupy_every_worker(bot, gate)
    response, took = timed(cora.slash, "me", channel="CGENERAL")
    assert response.status_code == 200 and response.text == "" and took < QUICK
    response, took = timed(cora.press_home, "Help")
    assert response.status_code == 200 and response.text == "" and took < QUICK
    assert bot.api.called("response_url") == []
    gate.open()
    bot.settle()
    (note,) = bot.api.called("response_url")  # the ephemeral note, as before
    assert note.params["response_type"] == "ephemeral"
    assert answers_to(bot, dev) == WORKERS
    texts = bot.api.texts(cora.dm)  # "me" from the slash command, "Help" from the home tab
    assert sum("Email: coordinator@demo.school" in t for t in texts) == 1
    assert sum("What would you like to do?" in t for t in texts) == 1


def test_the_form_is_checked_in_the_answer_while_every_worker_is_busy(
    bot: Bot, cora: SlackUser, gate: Gate
) -> None:
    cora.slash("add")
    view = list(bot.api.views.values())[-1]
    dev = occupy_every_worker(bot, gate)

    refused, took = timed(cora.submit, view, name="Kim Lee", email="kim.lee@")
    assert took < QUICK
    assert refused.status_code == 200
    answer = refused.json()
    assert answer["response_action"] == "errors"
    assert "not a valid email address" in answer["errors"]["email"]

    added, took = timed(cora.submit, view, name="Kim Lee", email="kim.lee@demo.school")
    assert took < QUICK
    assert added.status_code == 200 and added.text == ""  # the modal closes
    assert bot.app.hub.account_by_email("kim.lee@demo.school") is not None  # added already
    assert not any("Added *Kim Lee*" in t for t in bot.api.texts(cora.dm))
    gate.open()
    bot.settle()
    assert sum("Added *Kim Lee*" in t for t in bot.api.texts(cora.dm)) == 1  # confirmed later
    assert answers_to(bot, dev) == WORKERS


def test_a_repeated_delivery_does_nothing_and_the_first_is_worked_on_once(
    bot: Bot, cora: SlackUser, gate: Gate
) -> None:
    cora.slash("suspend grace.mensah@demo.school")
    prompt = cora.last()
    dev = occupy_every_worker(bot, gate)
    posted = len(bot.api.posted())
    for retry in (None, "1"):  # the same press, delivered twice while the work waits
        headers = {"x-slack-retry-num": retry} if retry else None
        again, took = timed(
            cora.press, "Suspend", prompt, action_ts="1760000200.000001", headers=headers
        )
        assert again.status_code == 200 and took < QUICK
    for retry in (None, "1"):  # and an event Slack retries
        headers = {"x-slack-retry-num": retry} if retry else None
        again, took = timed(cora.say, "help", event_id="Ev0TWICE", headers=headers)
        assert again.status_code == 200 and took < QUICK
    gate.open()
    bot.settle()
    texts = bot.api.texts(cora.dm)[posted:]
    assert answers_to(bot, dev) == WORKERS
    # The first delivery's work ran (the claim did not stop it), once.
    assert sum("is suspended and can no longer log in" in t for t in texts) == 1
    assert sum("What would you like to do?" in t for t in texts) == 1
    assert len(texts) == 2  # not even "that button was already used"
    assert bot.app.store.get(PROCESSED, "action:UCORA:1760000200.000001") is not None


def test_the_latency_counts_from_arrival_including_the_wait_for_a_worker(
    bot: Bot, cora: SlackUser, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    cora.slash("suspend ben.okafor@demo.school")
    prompt = cora.last()
    observed: list[tuple[float, str]] = []
    observe = metrics.observe

    def recording(started: float, platform: str = "") -> None:
        observed.append((started, platform))
        observe(started, platform)

    monkeypatch.setattr(metrics, "observe", recording)
    before = metrics.summary()["messages"]
    occupy_every_worker(bot, gate)
    amira = bot.user("UAMIRA", "amira.haddad@demo.school")
    amira.say("me", settle=False)  # its work starts only once a worker is free
    cora.press("Suspend", prompt, settle=False)
    time.sleep(0.1)
    gate.open()
    bot.settle()
    assert len(observed) == WORKERS + 2
    assert metrics.summary()["messages"] == before + WORKERS + 2
    assert {platform for _, platform in observed} == {"slack"}
    # Each stamp is the request's arrival (bot.slack.http, carried in the
    # context to the work), not the moment the work began.
    assert max(started for started, _ in observed) < gate.opened_at
    assert "slack" in metrics.summary()["by_platform"]


def test_a_failure_in_the_work_is_logged_and_the_user_told(
    bot: Bot, cora: SlackUser, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cora.slash("suspend ben.okafor@demo.school")
    prompt = cora.last()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(bot.frontend.adapter.core.engine, "handle", broken)
    with caplog.at_level(logging.ERROR, logger="bot.slack"):
        response = cora.press("Suspend", prompt)
    assert response.status_code == 200  # acknowledged before the work began
    assert "Slack listener failed" in caplog.text and "the engine broke" in caplog.text
    assert cora.last_text() == escape(SORRY)


def test_bolts_lazy_only_headers_from_outside_are_ignored(bot: Bot, cora: SlackUser) -> None:
    cora.slash("add")
    view = list(bot.api.views.values())[-1]
    payload = {
        "type": "view_submission",
        "view": {
            **view,
            "state": {
                "values": {
                    "name": {"value": {"type": "plain_text_input", "value": "Kim Lee"}},
                    "email": {"value": {"type": "plain_text_input", "value": "kim.lee@"}},
                    "sites": {"value": {"type": "checkboxes", "selected_options": []}},
                }
            },
        },
        "response_urls": [],
    }
    headers = {
        "x-slack-bolt-lazy-only": "1",
        "x-slack-bolt-lazy-function-name": "on_added",
    }
    refused = cora.interact(payload, headers=headers)  # still checked, as from Slack
    assert refused.json()["response_action"] == "errors"


def test_a_slow_form_does_not_hold_up_other_requests(
    bot: Bot, cora: SlackUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests are dispatched on the web server's event loop, except a form
    submission, which is checked and applied before Slack's answer: it goes
    to a worker thread, so a slow disk or Slack stalls it alone."""
    cora.slash("add")
    view = list(bot.api.views.values())[-1]
    hub = bot.frontend.adapter.core.hub
    add_accounts = hub.add_accounts

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)
        return add_accounts(*args, **kwargs)

    monkeypatch.setattr(hub, "add_accounts", slow)
    submitted: list[httpx.Response] = []
    form = threading.Thread(
        target=lambda: submitted.append(
            cora.submit(view, name="Kim Lee", email="kim.lee@demo.school", settle=False)
        )
    )
    form.start()
    time.sleep(0.2)  # the form is being applied
    dev = bot.user("UDEV", "dev.patel@demo.school")
    response, took = timed(dev.say, "me")
    assert response.status_code == 200 and took < QUICK, f"answered after {took:.2f} s"
    form.join(10)
    assert submitted and submitted[0].status_code == 200
    bot.settle()
    assert hub.account_by_email("kim.lee@demo.school") is not None
    assert answers_to(bot, dev) == 1


def test_slack_is_answered_while_the_store_is_held_and_the_work_follows_once(
    bot: Bot, cora: SlackUser
) -> None:
    """The acknowledgement asks nothing of the store (the work claims the
    delivery): a long write elsewhere, a snapshot say, delays the answer in
    the DM, never Slack's answer, and a retry meanwhile is still done once."""
    held, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with bot.app.store.transaction():
            held.set()
            release.wait(20)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert held.wait(5)
        for retry in (None, "1"):
            headers = {"x-slack-retry-num": retry} if retry else None
            answer, took = timed(cora.say, "help", event_id="Ev0HELD", headers=headers)
            assert answer.status_code == 200 and took < QUICK
        assert not bot.frontend.wait_idle(0.3)  # the work is in flight, waiting
        assert bot.api.texts(cora.dm) == []  # for the store
        assert bot.app.store.get(PROCESSED, "event:Ev0HELD") is None
    finally:
        release.set()
        writer.join()
    bot.settle()
    assert sum("What would you like to do?" in t for t in bot.api.texts(cora.dm)) == 1
    assert bot.app.store.get(PROCESSED, "event:Ev0HELD") is not None
