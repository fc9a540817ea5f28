"""The commands that run the bot: ``run``, ``console`` and the front ends."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bot.app import App, open_app
from bot.config import Config
from bot.console import run_console
from bot.mailer import Mailer
from handlers.conversations import all_conversations
from handlers.engine import Engine
from handlers.replies import Person
from hub.demo import DEMO_COORDINATOR, ensure_demo


class CommandError(Exception):
    """One line for the operator (shown by the CLI's error handler)."""


def build_engine(app: App, mailer: Mailer | None = None) -> Engine:
    engine = Engine(app.hub, all_conversations())
    if mailer is not None:
        engine.on_change = mailer.wake
    return engine


def console_session(app: App, email: str, greeting: list[str] | None = None) -> int:
    account = app.hub.account_by_email(email)
    if account is None or not account.active:
        raise CommandError(f"No active hub account has the address {email!r}.")
    mailer = Mailer(app.store, app.config)
    mailer.start(interval=2.0)
    try:
        engine = build_engine(app, mailer)
        person = Person("console", account.account_id, account.account_id)
        centre = app.hub.centre(account.centre_id)
        hello = greeting or []
        hello.append(
            f"Signed in as {account.name} ({account.role.value}, "
            f"{centre.name if centre else account.centre_id}). Type 'help'; Ctrl-D to leave."
        )
        return run_console(engine, person, greeting=hello)
    finally:
        mailer.stop()
        mailer.deliver_due()


def cmd_console(args: argparse.Namespace, cfg: Config) -> int:
    app = open_app(cfg)
    try:
        return console_session(app, args.as_email)
    finally:
        app.close()


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    app = open_app(cfg)
    try:
        if not cfg.has_chat_platform:
            created = ensure_demo(app.hub)
            note = "Created" if created else "Using"
            greeting = [
                "School Support Hub bot: no Slack or Telegram token is set: here is the console.",
                f"{note} the demo centre DEMO01. Emails are written to {cfg.data_dir / 'outbox'}.",
            ]
            return console_session(app, DEMO_COORDINATOR, greeting)
        raise CommandError("Slack and Telegram front ends are not available in this build yet.")
    finally:
        app.close()


def register(add: Callable[..., Any]) -> None:
    """Add the running commands to the ``hubbot`` parser."""
    add("run", cmd_run, "run every configured front end (the console on a demo centre if none)")
    p = add("console", cmd_console, "chat in the terminal as a hub account")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
