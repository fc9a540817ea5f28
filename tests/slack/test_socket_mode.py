"""Socket Mode for real: Slack's WebSocket played by an aiohttp server on
loopback, the bot connecting with slack_sdk's own client, envelopes in,
acknowledgements out; a redelivered envelope is processed once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from bot.app import open_app
from bot.config import load
from bot.runner import build_engine
from bot.slack import create as create_slack
from bot.slack.frontend import SlackFrontEnd
from hub.demo import ensure_demo

from .conftest import APP_TOKEN, BOT_TOKEN, TEAM, FakeSlack


class SlackSocket:
    """The WebSocket end of Socket Mode: says hello, sends envelopes and
    records the bot's acknowledgements."""

    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self.connections = 0
        self._ws: web.WebSocketResponse | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.port = self._run(self._start())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_get("/link", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        self.connections += 1
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {}})
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
        return ws

    def send(self, envelope: dict[str, Any]) -> None:
        assert self._ws is not None
        self._run(self._ws.send_json(envelope))

    def wait_ack(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ack in self.acks:
                if ack.get("envelope_id") == envelope_id:
                    return ack
            time.sleep(0.02)
        raise AssertionError(f"no acknowledgement of {envelope_id}")

    def close(self) -> None:
        self._run(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def socket_bot(tmp_path: Path, api: FakeSlack) -> Iterator[tuple[SlackFrontEnd, SlackSocket]]:
    slack = SlackSocket()
    api.socket_url = f"ws://127.0.0.1:{slack.port}/link"
    api.add_user("UCORA", "coordinator@demo.school")
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": api.url + "/api/",
    }
    app = open_app(load(environ=env, env_file=None, data_dir=tmp_path))
    ensure_demo(app.hub)
    frontend = create_slack(app, build_engine(app))
    frontend.start()
    deadline = time.monotonic() + 10
    while not frontend.healthy() and time.monotonic() < deadline:
        time.sleep(0.02)
    yield frontend, slack
    frontend.stop()  # slack_sdk's client needs up to its 3 s receive timeout to let go
    assert not frontend.healthy()
    slack.close()
    app.close()


def _dm(event_id: str, text: str, retry: int = 0) -> dict[str, Any]:
    return {
        "envelope_id": f"env-{event_id}-{retry}",
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": retry,
        "retry_reason": "timeout" if retry else "",
        "payload": {
            "team_id": TEAM,
            "api_app_id": "AHUB",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "channel": "DUCORA",
                "channel_type": "im",
                "user": "UCORA",
                "text": text,
                "ts": f"{time.time():.6f}",
            },
        },
    }


def test_socket_mode_events_commands_and_redeliveries(
    socket_bot: tuple[SlackFrontEnd, SlackSocket], api: FakeSlack
) -> None:
    frontend, slack = socket_bot
    assert frontend.healthy() and slack.connections == 1
    assert frontend.http_mounts() == {}

    slack.send(_dm("Ev0SOCK1", "me"))
    slack.wait_ack("env-Ev0SOCK1-0")
    assert frontend.wait_idle()
    assert "*Cora Ordinator*" in api.texts("DUCORA")[-1]

    slack.send(_dm("Ev0SOCK1", "me", retry=1))  # Slack redelivers: acknowledged, not redone
    slack.wait_ack("env-Ev0SOCK1-1")
    assert frontend.wait_idle()
    assert len(api.posted()) == 1

    slack.send(
        {
            "envelope_id": "env-slash-1",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": {
                "team_id": TEAM,
                "channel_id": "DUCORA",
                "user_id": "UCORA",
                "command": "/hub",
                "text": "show amira.haddad@demo.school",
                "response_url": f"{api.url}/response/1",
                "trigger_id": "1.UCORA.socket",
                "api_app_id": "AHUB",
            },
        }
    )
    slack.wait_ack("env-slash-1")
    assert frontend.wait_idle()
    assert "*Amira Haddad*" in api.texts("DUCORA")[-1]
