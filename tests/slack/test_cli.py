"""``hubbot slack`` as a process: HTTP mode on the configured port until
SIGTERM, and one clear line when it cannot run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import httpx
import pytest

from bot.commands_running import CommandError
from bot.config import load
from bot.slack.cli import cmd_slack

from .conftest import BOT_TOKEN, SIGNING_SECRET, FakeSlack, sign

REPO = Path(__file__).resolve().parents[2]
RUN = """
import argparse, sys
from bot.app import setup_logging
from bot.config import load
from bot.slack.cli import register
parser = argparse.ArgumentParser()
commands = parser.add_subparsers(dest="command")
def add(name, func, help):
    p = commands.add_parser(name, help=help)
    p.set_defaults(func=func)
    return p
register(add)
args = parser.parse_args(["slack"])
setup_logging("WARNING")
sys.exit(args.func(args, load(env_file=None, data_dir=sys.argv[1])))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hubbot_slack_serves_http_mode_until_sigterm(tmp_path: Path, api: FakeSlack) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{api.url}/api/",
        "HUB_HTTP_HOST": "127.0.0.1",
        "HUB_HTTP_PORT": str(port),
    }
    env.pop("SLACK_APP_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, str(tmp_path / "data")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "The Slack front end is running (HTTP mode at" in first, process.stderr.read()
        body = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "x-slack-request-timestamp": str(ts),
            "x-slack-signature": sign(SIGNING_SECRET, ts, body),
        }
        answer = httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body, headers=headers)
        assert answer.status_code == 200 and answer.json() == {"challenge": "c-123"}
        headers["x-slack-signature"] = sign("forged", ts, body)
        forged = httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body, headers=headers)
        assert forged.status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert "Traceback" not in (process.stderr.read() or "")
        assert api.called("auth.test")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_hubbot_slack_without_a_token_is_one_clear_line(tmp_path: Path) -> None:
    cfg = load(environ={}, env_file=None, data_dir=tmp_path)
    with pytest.raises(CommandError, match="Set SLACK_BOT_TOKEN"):
        cmd_slack(Namespace(), cfg)
