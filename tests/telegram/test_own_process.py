"""The Telegram front end in a process of its own, as it runs by default.

:class:`bot.telegram.process.TelegramProcess` starts ``python -m
bot.telegram.worker`` and answers its claims and turns over a socket pair.
These tests run that real child against the fake Bot API on loopback, so
what they check is what an operator gets: updates answered through the
child, its latency samples counted in this process, a killed child started
again, a digest sent through it (and refused while it is away), a repeat
update ignored because the claim travels with the turn, and no orphan left
polling Telegram once the bot's process is killed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import metrics
from bot.app import App
from bot.link import LinkClosed
from bot.telegram.process import TelegramProcess
from bot.telegram.updates import TABLE
from handlers.conversations import all_conversations
from handlers.engine import Engine
from handlers.replies import Reply, line
from hub.schema import AUDIT

from ..children import BotProcess, wait_until
from .conftest import BOT_ID, Call, FakeBotAPI, Stored, emailed_code
from .test_cli import _env

WELCOME = "Welcome to the School Support Hub bot"
COORDINATOR = "coordinator@demo.school"
DEV = "dev.patel@demo.school"


def command(chat_id: int, text: str) -> dict[str, Any]:
    """Something typed by someone in a private chat (no update_id yet)."""
    message: dict[str, Any] = {
        "message_id": int(time.time() * 1000) % 1_000_000,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Pat"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Pat"},
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"message": message}


def sent_to(api: FakeBotAPI, chat_id: int, mark: int = 0) -> list[Call]:
    """The messages the bot sent to one chat since ``mark``, successfully."""
    return [
        c
        for c in api.calls_since(mark, "sendMessage")
        if c.status == 200 and str(c.params.get("chat_id")) == str(chat_id)
    ]


def telegram_messages() -> int:
    by_platform: dict[str, dict[str, Any]] = metrics.summary().get("by_platform", {})  # type: ignore[assignment]
    return int(by_platform.get("telegram", {}).get("messages", 0))


@pytest.fixture
def frontend(hub_app: App) -> Iterator[TelegramProcess]:
    """A started TelegramProcess whose child polls the fake Bot API."""
    process = TelegramProcess(hub_app, Engine(hub_app.hub, all_conversations()), start_wait=15.0)
    try:
        process.start()
        yield process
    finally:
        process.stop()


def test_the_child_answers_and_its_latency_is_counted_here(
    api: FakeBotAPI, frontend: TelegramProcess
) -> None:
    assert frontend.process is not None and frontend.process.pid != os.getpid()
    assert frontend.running
    before = telegram_messages()
    api.push(command(4401, "/start"))
    sent = api.wait_for(lambda: sent_to(api, 4401), timeout=10)
    assert WELCOME in sent[0].params["text"]
    # The child reports its samples every 0.5 s; the parent records them.
    wait_until(lambda: telegram_messages() >= before + 1, 3, "the child's latency sample")
    wait_until(frontend.healthy, 3, "a healthy report")


def test_a_killed_child_is_started_again_and_answers(
    api: FakeBotAPI, frontend: TelegramProcess
) -> None:
    first = frontend.process
    assert first is not None and frontend.restarts == 0
    first.kill()
    assert first.wait(5) == -signal.SIGKILL
    wait_until(lambda: frontend.restarts == 1 and frontend.running, 20, "a new child")
    assert frontend.process is not None and frontend.process.pid != first.pid
    assert frontend.process.poll() is None
    mark = api.mark()
    api.push(command(4402, "/start"))
    sent = api.wait_for(lambda: sent_to(api, 4402, mark), timeout=10)
    assert WELCOME in sent[0].params["text"]
    wait_until(frontend.healthy, 3, "the new child to report healthy")


def test_stop_ends_the_child_politely_and_for_good(
    api: FakeBotAPI, frontend: TelegramProcess
) -> None:
    update = api.push(command(4407, "/start"))
    api.wait_for(lambda: sent_to(api, 4407), timeout=10)
    child = frontend.process
    assert child is not None
    frontend.stop()
    assert child.returncode == 0  # it finished, not killed
    assert not frontend.running and not frontend.healthy()
    # The handled update was confirmed to Telegram on the way out.
    offsets = [int(c.params.get("offset") or 0) for c in api.called("getUpdates")]
    assert max(offsets) > update["update_id"]
    time.sleep(1.5)  # longer than the first restart delay
    assert frontend.restarts == 0 and frontend.process is child


def test_stop_while_the_child_is_being_started_again_leaves_no_child(hub_app: App) -> None:
    frontend = TelegramProcess(hub_app, Engine(hub_app.hub, all_conversations()), start_wait=15.0)
    frontend.start()
    first = frontend.process
    assert first is not None
    first.kill()
    deadline = time.monotonic() + 10
    while frontend.restarts == 0 and time.monotonic() < deadline:
        pass  # stop() right as the supervisor starts the next child
    began = time.monotonic()
    frontend.stop()
    took = time.monotonic() - began
    last = frontend.process
    assert last is not None
    left_running = last.poll() is None
    if left_running:
        last.kill()
        last.wait()
    assert not left_running, "a child outlived stop() and still polls Telegram"
    assert took < 5


def test_a_digest_goes_through_the_child_and_is_refused_while_it_is_away(
    api: FakeBotAPI, frontend: TelegramProcess
) -> None:
    mark = api.mark()
    frontend.push("4403", [Reply(lines=(line("Your weekly digest: 2 new requests."),))])
    sent = sent_to(api, 4403, mark)  # push returns once Telegram has the message
    assert [c.params["text"] for c in sent] == ["Your weekly digest: 2 new requests."]

    child = frontend.process
    assert child is not None
    child.kill()
    child.wait(5)
    wait_until(lambda: not frontend.running, 5, "the parent to notice the child has gone")
    mark = api.mark()
    with pytest.raises(LinkClosed):
        frontend.push("4403", [Reply(lines=(line("Not now."),))])
    assert sent_to(api, 4403, mark) == []

    frontend.stop()
    with pytest.raises(LinkClosed):
        frontend.push("4403", [Reply(lines=(line("Nor after stopping."),))])
    assert sent_to(api, 4403, mark) == []


def test_an_update_delivered_twice_through_the_child_is_processed_once(
    api: FakeBotAPI, hub_app: App, frontend: TelegramProcess
) -> None:
    update = api.push(command(4404, "/start"))
    api.wait_for(lambda: sent_to(api, 4404), timeout=10)
    key = f"{BOT_ID}:{update['update_id']}"
    assert hub_app.store.get(TABLE, key) is not None  # claimed in the parent's store

    mark = api.mark()
    api.deliver_again(update)  # the same update_id, e.g. a lost confirmation

    def redelivered() -> bool:  # the poll that takes it may have begun before mark
        polls = api.called("getUpdates")
        given = [u for c in polls for u in (c.result or [])]
        return sum(u["update_id"] == update["update_id"] for u in given) == 2

    api.wait_for(redelivered, timeout=10)
    # Updates of one chat are handled in order: once the next one is answered,
    # the repeat has been handled too.
    # The help of an unlinked chat is the welcome again: count, not compare.
    follow_up = api.push(command(4404, "/help"))
    api.wait_for(lambda: sent_to(api, 4404, mark), timeout=10)
    time.sleep(0.3)  # a second answer, were there one, would be on its way
    assert len(sent_to(api, 4404, mark)) == 1  # the follow-up's, and nothing for the repeat
    assert len(sent_to(api, 4404)) == 2
    assert hub_app.store.get(TABLE, f"{BOT_ID}:{follow_up['update_id']}") is not None


def shown_since(api: FakeBotAPI, chat_id: int, mark: int) -> str:
    """The text of what the bot sent or edited in a chat since ``mark``."""
    texts = []
    for call in api.calls_since(mark, "sendMessage", "editMessageText"):
        if call.status == 200 and call.result and call.params.get("chat_id") == chat_id:
            texts.append(api.messages[(chat_id, call.result["message_id"])].text)
    return "\n".join(texts)


def say(api: FakeBotAPI, chat_id: int, update: dict[str, Any], expect: str) -> dict[str, Any]:
    """Push an update; wait until the bot has shown ``expect`` in the chat."""
    mark = api.mark()
    pushed = api.push(update)
    wait_until(lambda: expect in shown_since(api, chat_id, mark), 10, repr(expect))
    return pushed


def press(api: FakeBotAPI, chat_id: int, label: str) -> dict[str, Any]:
    """A press of the button ``label`` on the latest message that has it."""
    found: list[Stored] = [m for m in api.chat(chat_id) if label in m.labels()]
    assert found, f"no message in chat {chat_id} has a button {label!r}"
    with api.cond:
        query_id = f"q{len(api.queries) + 1}"
        api.queries.add(query_id)
    return {
        "callback_query": {
            "id": query_id,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Pat"},
            "chat_instance": "ci",
            "message": found[-1].as_dict(),
            "data": found[-1].data_for(label),
        }
    }


def test_a_button_press_delivered_twice_through_the_child_is_applied_once(
    api: FakeBotAPI, hub_app: App, frontend: TelegramProcess
) -> None:
    chat = 4406
    say(api, chat, command(chat, f"/link {COORDINATOR}"), "6-digit code is on its way")
    code = emailed_code(hub_app, COORDINATOR)
    say(api, chat, command(chat, code), "This chat is now linked")
    say(api, chat, command(chat, f"/suspend {DEV}"), "Dev Patel")
    pressed = say(api, chat, press(api, chat, "Suspend"), "Dev Patel is suspended")
    api.wait_for(lambda: [c for c in api.called("answerCallbackQuery") if c.status == 200])

    mark = api.mark()
    api.deliver_again(pressed)  # the same update_id: Telegram never got the confirmation
    # The next update of the chat is answered after the repeat was handled.
    api.push(command(chat, "/help"))
    wait_until(lambda: sent_to(api, chat, mark), 10, "the answer to /help")
    time.sleep(0.3)
    assert api.calls_since(mark, "answerCallbackQuery", "editMessageText") == []
    assert "suspended" not in shown_since(api, chat, mark)
    suspensions = [
        d for d in hub_app.store.scan(AUDIT) if d["action"] == "suspend" and d["target"] == DEV
    ]
    assert len(suspensions) == 1


def test_the_child_leaves_when_the_bot_process_is_killed(api: FakeBotAPI, tmp_path: Path) -> None:
    env = _env(api.url, tmp_path / "data")
    with BotProcess(["telegram"], cwd=tmp_path, env=env, log=tmp_path / "stderr.log") as bot:
        api.wait_for(lambda: api.called("getUpdates"), timeout=20)
        bot.worker("bot.telegram.worker")
        api.push(command(4405, "/start"))
        api.wait_for(lambda: sent_to(api, 4405), timeout=20)
        bot.kill()
    assert "the bot's process has gone; the Telegram process leaves too" in bot.stderr
