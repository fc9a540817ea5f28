"""``hubbot slack``: the Slack front end, the outbox and the reminders, until
Ctrl-C or SIGTERM. In HTTP mode it serves ``/slack/events`` on
``HUB_HTTP_HOST:HUB_HTTP_PORT`` (on the bot's web server when that is part
of the build, else on a small server of its own)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bot.app import open_app
from bot.commands_running import CommandError
from bot.config import Config
from bot.runner import Runner
from bot.slack.http import HttpServer


def cmd_slack(args: argparse.Namespace, cfg: Config) -> int:
    if not cfg.slack_bot_token:
        raise CommandError("Set SLACK_BOT_TOKEN to run the Slack front end.")
    app = open_app(cfg)
    try:
        runner = Runner(app, ("slack",))
        frontend = runner.frontends["slack"]
        mounts = frontend.http_mounts()
        server = None
        if mounts and runner.web is None:
            try:
                server = HttpServer(cfg.http_host, cfg.http_port, mounts, health=frontend.healthy)
            except OSError as exc:
                raise CommandError(
                    f"Cannot listen on {cfg.http_host}:{cfg.http_port}: {exc.strerror or exc}."
                ) from None
        runner.start()
        try:
            if server is not None:
                server.start()
            if mounts:
                where = f"HTTP mode at http://{cfg.http_host}:{cfg.http_port}/slack/events"
            else:
                where = "Socket Mode"
            print(f"The Slack front end is running ({where}). Ctrl-C to stop.", flush=True)
            runner.wait()
        finally:
            if server is not None:
                server.stop()
            runner.stop()
        return 0
    finally:
        app.close()


def register(add: Callable[..., Any]) -> None:
    """Add ``hubbot slack`` to the ``hubbot`` parser."""
    add("slack", cmd_slack, "run the Slack front end and the reminders (Socket Mode or HTTP)")
