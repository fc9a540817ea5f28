"""Webhook mode, through the bot's real web server on loopback: setWebhook with
a secret token, updates accepted only with that token, each processed once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from bot.app import App
from bot.telegram.updates import TABLE
from bot.web import WebServer, build_web_app

from ..children import hear_repeats, wait_for_repeat
from .conftest import BOT_ID, make_app

WEBHOOK_URL = "https://bot.example.org/telegram/webhook"


@pytest.fixture
def webhook_app(tmp_path, api) -> Iterator[App]:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path / "data", api.url, TELEGRAM_WEBHOOK_URL=WEBHOOK_URL, HUB_HTTP_PORT="0")
    yield app
    app.close()


def _update(update_id: int, text: str, chat_id: int = 5151) -> dict:  # type: ignore[type-arg]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Wes"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Wes"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


def test_webhook_with_a_secret_token(api, webhook_app, start_bot) -> None:  # type: ignore[no-untyped-def]
    frontend = start_bot(webhook_app)
    registered = api.called("setWebhook")[-1].params
    assert registered["url"] == WEBHOOK_URL
    secret = registered["secret_token"]
    assert len(secret) >= 32 and secret == frontend.webhook_secret
    assert set(registered["allowed_updates"]) == {"message", "callback_query"}
    assert api.called("getUpdates") == []  # no polling beside a webhook
    assert frontend.healthy()

    mounts = frontend.http_mounts()
    assert list(mounts) == ["/telegram/webhook"]
    server = WebServer(webhook_app.config, build_web_app(webhook_app.hub, mounts=mounts))
    server.start()
    try:
        url = f"{server.url}/telegram/webhook"
        body = json.dumps(_update(7001, "/start"))
        headers = {"Content-Type": "application/json"}
        with httpx.Client(timeout=10) as client:
            # A wrong or missing token: refused, and nothing happens.
            for given in ({"X-Telegram-Bot-Api-Secret-Token": "wrong" + secret[5:]}, {}):
                answer = client.post(url, content=body, headers={**headers, **given})
                assert answer.status_code == 403
            time.sleep(0.3)
            assert api.called("sendMessage") == []
            assert webhook_app.store.get(TABLE, f"{BOT_ID}:7001") is None
            assert client.get(url).status_code == 405

            good = {**headers, "X-Telegram-Bot-Api-Secret-Token": secret}
            answer = client.post(url, content=body, headers=good)
            assert answer.status_code == 200
            assert frontend.finished.wait_for(7001, 10)
            [sent] = api.called("sendMessage")
            assert sent.params["chat_id"] == 5151 and "Welcome" in sent.params["text"]

            # Telegram sending it again (our 200 was lost): accepted, done once.
            assert client.post(url, content=body, headers=good).status_code == 200
            assert frontend.finished.wait_for(7001, 10, times=2)
            assert len(api.called("sendMessage")) == 1

            assert client.post(url, content=b"{not json", headers=good).status_code == 400

            frontend.stop()  # stopped: Telegram is told to come back later
            answer = client.post(url, content=json.dumps(_update(7002, "/help")), headers=good)
            assert answer.status_code == 503
    finally:
        server.stop()
    assert api.called("deleteWebhook") == []  # the webhook stays for the next start


def test_telegram_refusing_the_webhook_address_is_one_clear_error(api, tmp_path, start_bot) -> None:  # type: ignore[no-untyped-def]
    from bot.telegram import TelegramRefused

    app = make_app(tmp_path / "d2", api.url, TELEGRAM_WEBHOOK_URL="http://plain.example.org/x")
    try:
        with pytest.raises(TelegramRefused, match="webhook"):
            start_bot(app)
    finally:
        app.close()


def test_webhook_through_the_telegram_process_of_its_own(api, webhook_app, caplog) -> None:  # type: ignore[no-untyped-def]
    """The same endpoint, mounted by the bot's process, with the front end in
    its own process: the secret is made here and given to the child, which
    registers it; accepted updates are handed over the link."""
    from bot.telegram.process import TelegramProcess
    from handlers.conversations import all_conversations
    from handlers.engine import Engine

    hear_repeats(caplog)
    frontend = TelegramProcess(webhook_app, Engine(webhook_app.hub, all_conversations()))
    frontend.start()
    server = None
    try:
        registered = api.called("setWebhook")[-1].params
        secret = registered["secret_token"]
        assert secret == frontend.config.telegram_webhook_secret and len(secret) >= 32
        mounts = frontend.http_mounts()
        server = WebServer(webhook_app.config, build_web_app(webhook_app.hub, mounts=mounts))
        server.start()
        url = f"{server.url}/telegram/webhook"
        body = json.dumps(_update(7101, "/start"))
        good = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}
        with httpx.Client(timeout=10) as client:
            wrong = {**good, "X-Telegram-Bot-Api-Secret-Token": "wrong"}
            assert client.post(url, content=body, headers=wrong).status_code == 403
            assert client.post(url, content=body, headers=good).status_code == 200
            [sent] = api.wait_for(lambda: api.called("sendMessage"), timeout=10)
            assert sent.params["chat_id"] == 5151 and "Welcome" in sent.params["text"]
            assert webhook_app.store.get(TABLE, f"{BOT_ID}:7101") is not None

            assert client.post(url, content=body, headers=good).status_code == 200  # again
            wait_for_repeat(caplog, f"{BOT_ID}:7101")
            assert len(api.called("sendMessage")) == 1  # done once

            frontend.stop()  # the child has gone: Telegram is told to come back later
            answer = client.post(url, content=json.dumps(_update(7102, "/help")), headers=good)
            assert answer.status_code == 503
    finally:
        frontend.stop()
        if server is not None:
            server.stop()


def test_the_telegram_process_says_when_telegram_refuses_the_webhook(api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.telegram import TelegramRefused
    from bot.telegram.process import TelegramProcess
    from handlers.conversations import all_conversations
    from handlers.engine import Engine

    app = make_app(tmp_path / "d3", api.url, TELEGRAM_WEBHOOK_URL="http://plain.example.org/x")
    try:
        frontend = TelegramProcess(app, Engine(app.hub, all_conversations()))
        with pytest.raises(TelegramRefused, match="webhook"):
            frontend.start()
        assert frontend.process is not None and frontend.process.poll() is not None
    finally:
        app.close()
