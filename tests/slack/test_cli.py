"""``hubbot slack`` as a process: HTTP mode on the configured port until
SIGTERM, and one clear line when it cannot run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.cli import main

from .conftest import BOT_TOKEN, SIGNING_SECRET, FakeSlack, sign

REPO = Path(__file__).resolve().parents[2]


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
        [sys.executable, "-m", "bot", "--data-dir", str(tmp_path / "data"), "slack"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "The slack front end is running (HTTP mode at" in first, process.stderr.read()
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


def test_hubbot_slack_without_a_token_is_one_clear_line(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["--data-dir", str(tmp_path), "slack"]) == 1
    assert (
        capsys.readouterr().err.strip() == "hubbot: Set SLACK_BOT_TOKEN to run the slack front end."
    )
