"""``hubbot telegram`` as an operator runs it: a real process against the fake
Bot API, stopped with SIGTERM; a refused token is one clear line."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.cli import main

from ..children import scrubbed_env
from .conftest import TOKEN

REPO = Path(__file__).resolve().parents[2]


def _env(api_url: str, data_dir: Path, token: str = TOKEN) -> dict[str, str]:
    return scrubbed_env(
        TELEGRAM_BOT_TOKEN=token,
        TELEGRAM_API_BASE_URL=api_url,
        HUB_DATA_DIR=str(data_dir),
        HUB_HTTP_PORT="0",
        PYTHONPATH=str(REPO),
    )


def test_hubbot_telegram_answers_and_stops_on_sigterm(api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "telegram"],
        cwd=tmp_path,
        env=_env(api.url, tmp_path / "data"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        api.wait_for(lambda: api.called("getUpdates"), timeout=20)
        api.push(
            {
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": 77, "type": "private", "first_name": "Op"},
                    "from": {"id": 77, "is_bot": False, "first_name": "Op"},
                    "text": "/start",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                }
            }
        )
        sent = api.wait_for(lambda: api.called("sendMessage"), timeout=20)
        assert "Welcome to the School Support Hub bot" in sent[0].params["text"]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "running" in out
    secret = TOKEN.split(":", 1)[1]
    assert secret not in out + err
    assert "Traceback" not in err


def test_a_refused_token_is_one_clear_line(api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "bot", "telegram"],
        cwd=tmp_path,
        env=_env(api.url, tmp_path / "data", token="999:not-the-right-one"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "hubbot: Telegram refused TELEGRAM_BOT_TOKEN; check it with @BotFather."
    )
    assert "Traceback" not in result.stderr and "not-the-right-one" not in result.stderr


def test_hubbot_telegram_needs_a_token(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["--data-dir", str(tmp_path), "telegram"]) == 1
    assert "Set TELEGRAM_BOT_TOKEN" in capsys.readouterr().err
