"""``hubbot telegram``: run the Telegram front end until Ctrl-C or SIGTERM,
with the outbox, the reminders and (for a webhook) the web server."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bot.app import open_app
from bot.config import Config, ConfigError


def cmd_telegram(args: argparse.Namespace, cfg: Config) -> int:
    from bot.runner import Runner

    if not cfg.telegram_bot_token:
        raise ConfigError("Set TELEGRAM_BOT_TOKEN to run the Telegram front end.")
    app = open_app(cfg)
    try:
        runner = Runner(app, ("telegram",))
        if cfg.telegram_webhook_url and runner.web is None:
            raise ConfigError(
                "TELEGRAM_WEBHOOK_URL needs the bot's web server, which is not in this build; "
                "unset it to use long polling."
            )
        try:
            runner.start()
            frontend = runner.frontends["telegram"]
            mode = getattr(frontend, "mode", "long polling")
            where = (
                f" (webhook at {cfg.http_host}:{cfg.http_port})" if cfg.telegram_webhook_url else ""
            )
            print(f"The Telegram front end is running: {mode}{where}. Ctrl-C to stop.", flush=True)
            runner.wait()
        finally:
            runner.stop()
        return 0
    finally:
        app.close()


def register(add: Callable[..., Any]) -> None:
    """Add ``telegram`` to the ``hubbot`` parser."""
    add("telegram", cmd_telegram, "run the Telegram front end (with the outbox and reminders)")
