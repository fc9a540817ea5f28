"""``hubbot slack``: the Slack front end with the outbox, the reminders and
the web page, until Ctrl-C or SIGTERM. In HTTP mode Slack posts to
``/slack/events`` on the bot's web server (``HUB_HTTP_HOST:HUB_HTTP_PORT``);
in Socket Mode (``SLACK_APP_TOKEN``) the bot connects out to Slack."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bot.app import open_app
from bot.commands_running import CommandError
from bot.config import Config
from bot.runner import Runner


def cmd_slack(args: argparse.Namespace, cfg: Config) -> int:
    if not cfg.slack_bot_token:
        raise CommandError("Set SLACK_BOT_TOKEN to run the Slack front end.")
    app = open_app(cfg)
    try:
        runner = Runner(app, ("slack",))
        frontend = runner.frontends["slack"]
        if frontend.http_mounts() and runner.web is None:
            raise CommandError("Slack's HTTP mode needs the web server, which is not installed.")
        runner.start()
        try:
            if frontend.http_mounts():
                where = f"HTTP mode at http://{cfg.http_host}:{cfg.http_port}/slack/events"
            else:
                where = "Socket Mode"
            print(f"The Slack front end is running ({where}). Ctrl-C to stop.", flush=True)
            runner.wait()
        finally:
            runner.stop()
        return 0
    finally:
        app.close()


def register(add: Callable[..., Any]) -> None:
    """Add ``hubbot slack`` to the ``hubbot`` parser."""
    add("slack", cmd_slack, "run the Slack front end and the reminders (Socket Mode or HTTP)")
