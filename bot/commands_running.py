"""The commands that run the bot: ``run``, ``console``, ``telegram``,
``slack``, ``web`` and ``remind --now``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bot.app import App, open_app, quiet_logging_for_console, settle
from bot.config import Config
from bot.console import ConsoleFrontEnd, ConsoleRenderer, run_console
from bot.mailer import Mailer
from bot.reminders import DigestSender, local_day
from bot.runner import Runner, build_engine, configured_platforms, make_frontends
from handlers.replies import Person
from hub.demo import DEMO_COORDINATOR, ensure_demo


class CommandError(Exception):
    """One line for the operator (shown by the CLI's error handler)."""


def _console(
    app: App, runner: Runner, email: str, greeting: list[str], renderer: ConsoleRenderer
) -> int:
    account = app.hub.account_by_email(email)
    if account is None or not account.active:
        raise CommandError(f"No active hub account has the address {email!r}.")
    centre = app.hub.centre(account.centre_id)
    greeting.append(
        f"Signed in as {account.name} ({account.role.value}, "
        f"{centre.name if centre else account.centre_id}). Type 'help'; Ctrl-D to leave."
    )
    person = Person("console", account.account_id, account.account_id)
    quiet_logging_for_console()
    return run_console(runner.engine, person, greeting=greeting, renderer=renderer)


def cmd_console(args: argparse.Namespace, cfg: Config) -> int:
    """A console session only: no web page, no scheduler, no chat platforms."""
    app = open_app(cfg)
    runner = Runner(app, (), web=False, scheduler=False)
    runner.start()
    try:
        return _console(app, runner, args.as_email, [], ConsoleRenderer())
    finally:
        runner.stop()
        app.close()


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    app = settle(open_app(cfg))
    platforms = configured_platforms(app)
    try:
        if platforms:
            runner = Runner(app, platforms)
            runner.start()
            print(
                f"School Support Hub bot running: {', '.join(platforms)}, the web page on "
                f"{cfg.http_host}:{cfg.http_port}, reminders at {cfg.reminder_time} "
                f"{cfg.timezone}. Ctrl-C to stop.",
                flush=True,
            )
            try:
                runner.wait()
            finally:
                runner.stop()
            return 0
        created = ensure_demo(app.hub)
        coordinator = app.hub.account_by_email(DEMO_COORDINATOR)
        renderer = ConsoleRenderer()
        live = {coordinator.account_id: ConsoleFrontEnd(renderer)} if coordinator else {}
        runner = Runner(app, (), live=live)
        runner.start()
        greeting = [
            "School Support Hub bot: no Slack or Telegram token is set: here is the console.",
            f"{'Created' if created else 'Using'} the demo centre DEMO01. Emails are written to "
            f"{cfg.data_dir / 'outbox'}; the set-password page is on {cfg.public_url}.",
        ]
        try:
            return _console(app, runner, DEMO_COORDINATOR, greeting, renderer)
        finally:
            runner.stop()
    finally:
        app.close()


def _platform_command(platform: str) -> Callable[[argparse.Namespace, Config], int]:
    def command(args: argparse.Namespace, cfg: Config) -> int:
        token = cfg.telegram_bot_token if platform == "telegram" else cfg.slack_bot_token
        if not token:
            variable = "TELEGRAM_BOT_TOKEN" if platform == "telegram" else "SLACK_BOT_TOKEN"
            raise CommandError(f"Set {variable} to run the {platform} front end.")
        app = settle(open_app(cfg))
        try:
            runner = Runner(app, (platform,))
            try:
                runner.start()  # stopped again below if a front end refuses to start
                mode = getattr(runner.frontends[platform], "mode", "")
                print(
                    f"The {platform} front end is running{f' ({mode})' if mode else ''}; "
                    f"the web page on {cfg.http_host}:{cfg.http_port}. Ctrl-C to stop.",
                    flush=True,
                )
                runner.wait()
            finally:
                runner.stop()
            return 0
        finally:
            app.close()

    return command


def cmd_remind(args: argparse.Namespace, cfg: Config) -> int:
    if not args.now:
        raise CommandError("Use 'hubbot remind --now' to send today's digests now.")
    app = open_app(cfg)
    try:
        mailer = Mailer(app.store, cfg)
        engine = build_engine(app, mailer)
        frontends = make_frontends(app, engine, configured_platforms(app))
        sender = DigestSender(app.hub, engine, frontends, remind_after_days=cfg.remind_after_days)
        day = local_day(app.hub.now(), cfg.tz)
        report = sender.run(day)
        print(f"Reminder digests for {day:%A %d %B %Y}:")
        for entry in report.lines():
            print(f"  {entry}")
        said = mailer.deliver_and_say()
        if said:
            print(said)
        return 1 if report.failed else 0
    finally:
        app.close()


def cmd_web(args: argparse.Namespace, cfg: Config) -> int:
    from bot.web.cli import cmd_web as serve  # Starlette and uvicorn only when used

    return serve(args, cfg)


def register(add: Callable[..., Any]) -> None:
    """Add the running commands to the ``hubbot`` parser."""
    add(
        "run",
        cmd_run,
        "run every configured front end, the web page and the reminders "
        "(the console on a demo centre when no Slack or Telegram token is set)",
    )
    p = add("console", cmd_console, "chat in the terminal as a hub account")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    add("telegram", _platform_command("telegram"), "run the Telegram front end (and reminders)")
    add("slack", _platform_command("slack"), "run the Slack front end (and reminders)")
    p = add("remind", cmd_remind, "send today's reminder digests")
    p.add_argument("--now", action="store_true", help="run the digest now")
    add("web", cmd_web, "serve the set-password page and /healthz on their own")
