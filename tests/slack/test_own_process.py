"""The Slack front end in a process of its own, as it runs by default.

:class:`bot.slack.process.SlackProcess` starts ``python -m
bot.slack.worker`` and answers its claims, identities and turns over a
socket pair, while ``/slack/events`` stays on the bot's own web server and
each delivery is passed to the child. These tests run that real child
against the fake Slack Web API on loopback, with signed requests sent to
the bot's real web server, so what they check is what an operator gets:
messages and presses answered through the child, its latency samples
counted in this process, a repeated delivery ignored because the claim is
made in this process's store, the add-account form's errors carried back in
the HTTP answer, a killed child started again (Slack told to retry while it
is away), a digest and a lookup going through it (and refused once it is
stopped), a refused token reported by ``start()``, and no orphan left once
the bot's process is killed.

The conftest's :meth:`Bot.settle` waits for the front end's executor, which
is in the child here: these tests wait instead for what Slack is sent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import child as child_module
from bot import metrics
from bot.app import open_app
from bot.config import ConfigError, load
from bot.link import LinkClosed
from bot.runner import build_engine
from bot.slack.dedupe import TABLE as PROCESSED
from bot.slack.identity import NOT_A_HUB_USER
from bot.slack.process import SlackProcess
from bot.slack.render import escape
from bot.web import WebServer, build_web_app
from handlers.replies import Reply, b, line
from hub.demo import DEMO_COORDINATOR, ensure_demo

from ..children import BotProcess, hear_repeats, scrubbed_env, wait_for_repeat, wait_until
from .conftest import BOT_TOKEN, SIGNING_SECRET, Bot, Failure, FakeSlack, SlackUser, sign

REPO = Path(__file__).resolve().parents[2]
HELP = "What would you like to do?"
DEV = "dev.patel@demo.school"
SUSPENDED = "is suspended and can no longer log in"


class ChildBot(Bot):
    """The conftest's bot, with Slack in a child process."""

    frontend: SlackProcess  # type: ignore[assignment]

    def settle(self) -> None:
        """Nothing to wait for here: the work is in the child."""


def texts_since(api: FakeSlack, channel: str, mark: int) -> list[str]:
    """What the bot posted in a channel since call number ``mark``."""
    return [
        c.params.get("text", "")
        for c in api.calls[mark:]
        if c.method == "chat.postMessage" and c.status == 200 and c.params["channel"] == channel
    ]


def wait_for_text(api: FakeSlack, channel: str, mark: int, expect: str) -> list[str]:
    return wait_until(
        lambda: [t for t in texts_since(api, channel, mark) if expect in t],
        10,
        f"{expect!r} in {channel}",
    )


def slack_messages() -> int:
    by_platform: dict[str, dict[str, Any]] = metrics.summary().get("by_platform", {})  # type: ignore[assignment]
    return int(by_platform.get("slack", {}).get("messages", 0))


def environ(api: FakeSlack, **extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{api.url}/api/",
        **extra,
    }


@pytest.fixture
def bot(tmp_path: Path, api: FakeSlack) -> Iterator[ChildBot]:
    """As conftest's ``start_bot``, with :class:`SlackProcess` mounted on
    the bot's web server as ``hubbot run`` does."""
    app = open_app(load(environ=environ(api), env_file=None, data_dir=tmp_path / "data"))
    ensure_demo(app.hub)
    frontend = SlackProcess(app, build_engine(app), start_wait=15.0)
    server: WebServer | None = None
    http = httpx.Client(timeout=30)
    try:
        frontend.start()
        web = build_web_app(app.hub, mounts=frontend.http_mounts())
        server = WebServer(replace(app.config, http_host="127.0.0.1", http_port=0), web)
        server.start()
        yield ChildBot(app, frontend, server, api, http)  # type: ignore[arg-type]
    finally:
        http.close()
        if server is not None:
            server.stop()
        frontend.stop()
        app.close()


@pytest.fixture
def cora(bot: ChildBot) -> SlackUser:
    return bot.user("UCORA", DEMO_COORDINATOR)


# ------------------------------------------------------------ messages
def test_a_message_is_answered_through_the_child_and_its_latency_counted_here(
    bot: ChildBot, cora: SlackUser
) -> None:
    assert bot.frontend.process is not None and bot.frontend.process.pid != os.getpid()
    assert bot.frontend.running
    assert list(bot.frontend.http_mounts()) == ["/slack/events"]
    before = slack_messages()
    answer = cora.say("help")
    assert answer.status_code == 200 and answer.text == ""
    wait_for_text(bot.api, cora.dm, 0, HELP)
    # The child reports its samples every 0.5 s; this process records them.
    wait_until(lambda: slack_messages() >= before + 1, 3, "the child's latency sample")
    wait_until(bot.frontend.healthy, 3, "a healthy report")

    # A forged request is refused by the child's Bolt, and nothing is claimed.
    mark = len(bot.api.calls)
    forged = cora.say("help", event_id="Ev0FORGED", secret="not-the-secret")
    assert forged.status_code == 401  # refused before any listener ran
    assert bot.app.store.get(PROCESSED, "event:Ev0FORGED") is None
    assert bot.api.calls[mark:] == []


def suspend_prompt(cora: SlackUser) -> dict[str, Any]:
    """Ask to suspend Dev; the prompt with its buttons, once posted."""
    cora.slash("suspend " + DEV)
    found: list[dict[str, Any]] = wait_until(
        lambda: [m for m in cora.messages() if "Suspend *Dev Patel*" in m["text"]],
        10,
        "the suspend prompt",
    )
    return found[-1]


def test_a_button_press_is_answered_through_the_child(bot: ChildBot, cora: SlackUser) -> None:
    prompt = suspend_prompt(cora)
    dev = bot.app.hub.account_by_email(DEV)
    assert dev is not None and dev.active  # nothing before the press

    mark = len(bot.api.calls)
    pressed = cora.press("Suspend", prompt)
    assert pressed.status_code == 200
    wait_for_text(bot.api, cora.dm, mark, SUSPENDED)
    updates = [c for c in bot.api.calls[mark:] if c.method == "chat.update"]
    assert [(c.params["channel"], c.params["ts"]) for c in updates] == [(cora.dm, prompt["ts"])]
    # The pressed message keeps no button to press again, and says which was pressed.
    kept = bot.api.messages[(cora.dm, prompt["ts"])]["blocks"]
    assert [b for b in kept if b["type"] == "actions"] == []
    assert "✓ Suspend" in json.dumps(kept, ensure_ascii=False)
    dev = bot.app.hub.account_by_email(DEV)
    assert dev is not None and not dev.active  # applied in this process's store


def test_a_repeated_delivery_through_the_child_is_applied_once(
    bot: ChildBot, cora: SlackUser, caplog: pytest.LogCaptureFixture
) -> None:
    hear_repeats(caplog)
    for retry in (None, "1"):
        headers = {"x-slack-retry-num": retry, "x-slack-retry-reason": "http_timeout"}
        answer = cora.say("help", event_id="Ev0CHILD1", headers=headers if retry else None)
        assert answer.status_code == 200
    # The claim is made in this process's store, with the turn.
    wait_for_text(bot.api, cora.dm, 0, HELP)
    assert bot.app.store.get(PROCESSED, "event:Ev0CHILD1") is not None

    prompt = suspend_prompt(cora)
    for retry in (None, "1"):  # the same press delivered twice
        headers = {"x-slack-retry-num": retry} if retry else None
        cora.press("Suspend", prompt, action_ts="1760000300.000001", headers=headers)
    wait_for_text(bot.api, cora.dm, 0, SUSPENDED)

    # Each repeat was turned away by its claim, in this process.
    wait_for_repeat(caplog, "event:Ev0CHILD1")
    wait_for_repeat(caplog, "action:UCORA:1760000300.000001")
    texts = bot.api.texts(cora.dm)
    assert sum(HELP in t for t in texts) == 1
    assert sum(SUSPENDED in t for t in texts) == 1
    assert len(bot.api.called("chat.update")) == 1
    assert bot.app.store.get(PROCESSED, "action:UCORA:1760000300.000001") is not None


# ------------------------------------------------------------ restarts
@pytest.fixture
def slow_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first restart 5 s after a child dies instead of 1 s, so that a
    test sees the bot while its child is away even on a busy machine
    (requested before ``bot``, whose supervisor reads it when it starts)."""
    monkeypatch.setattr(child_module, "RESTART_FIRST", 5.0)


def test_a_killed_child_is_started_again_and_slack_is_told_to_retry_meanwhile(
    slow_restart: None, bot: ChildBot, cora: SlackUser
) -> None:
    frontend = bot.frontend
    first = frontend.process
    assert first is not None and frontend.restarts == 0
    first.kill()
    assert first.wait(5) == -signal.SIGKILL
    # The next child starts no sooner than RESTART_FIRST later.
    wait_until(lambda: not frontend.running, 5, "the parent to notice the child has gone")
    away = cora.say("help", event_id="Ev0AWAY")
    assert away.status_code == 503 and "restarting" in away.text
    assert bot.app.store.get(PROCESSED, "event:Ev0AWAY") is None  # Slack's retry counts
    with pytest.raises(LinkClosed):
        frontend.find_chat(DEMO_COORDINATOR)

    wait_until(lambda: frontend.restarts == 1 and frontend.running, 20, "a new child")
    assert frontend.process is not None and frontend.process.pid != first.pid
    assert frontend.process.poll() is None
    assert bot.api.texts(cora.dm) == []
    retried = cora.say("help", event_id="Ev0AWAY", headers={"x-slack-retry-num": "1"})
    assert retried.status_code == 200
    wait_for_text(bot.api, cora.dm, 0, HELP)
    wait_until(frontend.healthy, 3, "the new child to report healthy")


# ------------------------------------------------------------ outbound
def test_a_digest_goes_through_the_child_and_is_refused_once_stopped(
    bot: ChildBot, cora: SlackUser
) -> None:
    digest = Reply((line("Your weekly digest: ", b("2 new requests"), "."),))
    bot.frontend.push("UCORA", [digest])
    # push returns once Slack has the message.
    assert bot.api.texts(cora.dm) == ["Your weekly digest: *2 new requests*."]

    bot.api.fail_next("chat.postMessage", Failure(200, {"ok": False, "error": "fatal_error"}))
    with pytest.raises(Exception, match="fatal_error"):  # Slack's refusal reaches the caller
        bot.frontend.push("UCORA", [digest])

    child = bot.frontend.process
    assert child is not None
    bot.frontend.stop()
    assert child.returncode == 0  # it finished, not killed
    assert not bot.frontend.running and not bot.frontend.healthy()
    mark = len(bot.api.calls)
    with pytest.raises(LinkClosed):
        bot.frontend.push("UCORA", [Reply((line("Not after stopping."),))])
    with pytest.raises(LinkClosed):
        bot.frontend.find_chat(DEMO_COORDINATOR)
    stopped = cora.say("help")
    assert stopped.status_code == 503
    assert bot.api.calls[mark:] == []
    assert bot.frontend.restarts == 0 and bot.frontend.process is child


def test_find_chat_asks_slack_through_the_child(bot: ChildBot, cora: SlackUser) -> None:
    assert bot.frontend.find_chat(DEMO_COORDINATOR) == "UCORA"
    assert bot.frontend.find_chat("nobody@demo.school") is None
    bot.api.add_user("UGONE", "gone@demo.school", deleted=True)
    assert bot.frontend.find_chat("gone@demo.school") is None
    asked = [c.params["email"] for c in bot.api.called("users.lookupByEmail")]
    assert asked == [DEMO_COORDINATOR, "nobody@demo.school", "gone@demo.school"]


# ---------------------------------------------------------------- form
def test_the_add_form_is_checked_through_the_child_and_its_errors_answered(
    bot: ChildBot, cora: SlackUser
) -> None:
    cora.slash("add")
    (opened,) = wait_until(lambda: bot.api.called("views.open"), 10, "the add form")
    view = bot.api.views[next(iter(bot.api.views))]
    assert view["callback_id"] == opened.params["view"]["callback_id"] == "hub_add_account"

    refused = cora.submit(view, name="Kim Lee", email="kim.lee@", sites=["primary"])
    assert refused.status_code == 200
    answer = refused.json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"email"}
    assert "not a valid email address" in answer["errors"]["email"]
    assert bot.app.hub.account_by_email("kim.lee@demo.school") is None

    added = cora.submit(view, name="Kim Lee", email="kim.lee@demo.school", sites=["primary"])
    assert added.status_code == 200 and added.text == ""  # the modal closes
    kim = bot.app.hub.account_by_email("kim.lee@demo.school")  # added before the answer
    assert kim is not None and kim.name == "Kim Lee" and "primary" in kim.sites
    wait_for_text(bot.api, cora.dm, 0, "Added *Kim Lee*")


# ---------------------------------------------------------- a bad token
def test_a_refused_token_is_a_config_error_and_leaves_no_child(
    tmp_path: Path, api: FakeSlack
) -> None:
    api.fail_next("auth.test", Failure(200, {"ok": False, "error": "invalid_auth"}))
    app = open_app(load(environ=environ(api), env_file=None, data_dir=tmp_path / "data"))
    frontend = SlackProcess(app, build_engine(app), start_wait=15.0)
    try:
        with pytest.raises(ConfigError, match=r"refused SLACK_BOT_TOKEN \(invalid_auth\)"):
            frontend.start()
        child = frontend.process
        assert child is not None and child.poll() is not None
        assert not frontend.running and not frontend.healthy()
        assert [c.method for c in api.calls] == ["auth.test"]
        assert frontend.restarts == 0 and frontend.process is child
    finally:
        frontend.stop()
        app.close()


# --------------------------------------------------- the parent killed
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_child_leaves_when_the_bot_process_is_killed(api: FakeSlack, tmp_path: Path) -> None:
    api.add_user("UCORA", DEMO_COORDINATOR)
    port = _free_port()
    # Slack in a process of its own, the default: SLACK_OWN_PROCESS unset.
    env = scrubbed_env(
        **environ(api), HUB_HTTP_HOST="127.0.0.1", HUB_HTTP_PORT=str(port), PYTHONPATH=str(REPO)
    )
    args = ["--data-dir", str(tmp_path / "data"), "slack"]
    log = tmp_path / "stderr.log"
    with BotProcess(args, cwd=tmp_path, env=env, log=log, stdout=subprocess.PIPE) as bot:
        assert bot.proc.stdout is not None
        first = bot.proc.stdout.readline()
        assert "The slack front end is running" in first and "process of its own" in first
        bot.worker("bot.slack.worker")
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": "T0SCHOOL",
                "event_id": "Ev0CLI1",
                "event": {
                    "type": "message",
                    "channel": "DUCORA",
                    "channel_type": "im",
                    "user": "UCORA",
                    "text": "help",
                    "ts": f"{time.time():.6f}",
                },
            }
        ).encode()
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "x-slack-request-timestamp": str(ts),
            "x-slack-signature": sign(SIGNING_SECRET, ts, body),
        }
        url = f"http://127.0.0.1:{port}/slack/events"
        assert httpx.post(url, content=body, headers=headers, timeout=30).status_code == 200
        # A fresh data directory has no demo centre: Cora is told she is not
        # a hub user, by the child.
        (said,) = wait_until(lambda: api.texts("DUCORA"), 10, "an answer in the DM")
        assert said == escape(NOT_A_HUB_USER)
        bot.kill()
    assert "the bot's process has gone; the Slack process leaves too" in bot.stderr
