"""``hubbot``: the operator's command line (also ``python -m bot``).

Every command takes ``--data-dir``. Errors are one clear line on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from bot import config as config_module
from bot.app import App, open_app, setup_logging
from bot.commands_running import CommandError
from bot.config import Config, ConfigError
from handlers import csv_io
from hub import Actor, HubError
from hub.demo import DEMO_CENTRE, DEMO_COORDINATOR, ensure_demo
from hub.outbox import all_emails
from hub.schema import SchemaTooNew
from storage import StoreError

Command = Callable[[argparse.Namespace, Config], int]


class UsageError(Exception):
    pass


def _with_app(args: argparse.Namespace, cfg: Config, work: Callable[[App], int]) -> int:
    app = open_app(cfg)
    try:
        return work(app)
    finally:
        app.close()


# ------------------------------------------------------------------ centres
def cmd_centre_add(args: argparse.Namespace, cfg: Config) -> int:
    def work(app: App) -> int:
        centre, coordinator = app.hub.create_centre(
            args.centre_id, args.name, args.coordinator_name, args.coordinator_email
        )
        print(f"Created centre {centre.centre_id} ({centre.name}).")
        print(f"Coordinator {coordinator.label}: invitation queued by email.")
        _deliver(app)
        return 0

    return _with_app(args, cfg, work)


def cmd_centre_coordinator(args: argparse.Namespace, cfg: Config) -> int:
    def work(app: App) -> int:
        new, old = app.hub.hand_over_coordinator(args.centre_id, args.email)
        print(f"{new.label} is now the coordinator of {new.centre_id}.")
        if old:
            print(f"{old.label} keeps admin rights.")
        return 0

    return _with_app(args, cfg, work)


# -------------------------------------------------------------------- users
def cmd_users_import(args: argparse.Namespace, cfg: Config) -> int:
    drafts = csv_io.read_accounts(Path(args.file).read_bytes())

    def work(app: App) -> int:
        centre = _centre(app, args.centre_id)
        checked = app.hub.check_rows(Actor.operator(), drafts)
        for row in checked:
            who = f"{row.draft.name} <{row.draft.email}>"
            if row.ok:
                role = "admin" if row.draft.admin else "teacher"
                print(f"row {row.line + 1}: ok       {who}, {role}, {', '.join(row.draft.sites)}")
            else:
                print(f"row {row.line + 1}: refused  {who}: {' '.join(row.problems)}")
        valid = [r.draft for r in checked if r.ok]
        refused = len(checked) - len(valid)
        if not valid:
            print("No valid rows; nothing was created.")
            return 1
        if not args.yes and not _confirm(f"Create {len(valid)} account(s) in {centre}?"):
            print("Nothing was created.")
            return 1
        outcome = app.hub.add_accounts(Actor.operator(), valid, centre_id=centre)
        print(f"Created {len(outcome.created)} account(s); each was sent an invitation.")
        for draft, reason in outcome.refused:
            print(f"Refused {draft.email}: {reason}")
        _deliver(app)
        return 1 if refused or outcome.refused else 0

    return _with_app(args, cfg, work)


def cmd_users_export(args: argparse.Namespace, cfg: Config) -> int:
    def work(app: App) -> int:
        centre = _centre(app, args.centre_id)
        accounts = app.hub.filter_accounts(centre, "", args.status, args.role)
        sys.stdout.write(csv_io.write_accounts(accounts))
        return 0

    return _with_app(args, cfg, work)


# --------------------------------------------------------------------- data
def cmd_data_import(args: argparse.Namespace, cfg: Config) -> int:
    rows = csv_io.read_data(Path(args.file).read_bytes())

    def work(app: App) -> int:
        problems = app.hub.import_data(_centre(app, args.centre_id), rows)
        for line, reason in problems:
            print(f"row {line + 1}: refused: {reason}")
        print(f"Imported {len(rows) - len(problems)} of {len(rows)} record(s).")
        return 1 if problems else 0

    return _with_app(args, cfg, work)


def cmd_data_export(args: argparse.Namespace, cfg: Config) -> int:
    def work(app: App) -> int:
        sys.stdout.write(csv_io.write_data(app.hub.centre_data(_centre(app, args.centre_id))))
        return 0

    return _with_app(args, cfg, work)


# ------------------------------------------------------------ demo, outbox
def cmd_demo(args: argparse.Namespace, cfg: Config) -> int:
    def work(app: App) -> int:
        if ensure_demo(app.hub):
            print(f"Created the demo centre {DEMO_CENTRE}; its coordinator is {DEMO_COORDINATOR}.")
        else:
            print(f"The demo centre {DEMO_CENTRE} already exists.")
        print(f"Try: hubbot console --as {DEMO_COORDINATOR}")
        _deliver(app)
        return 0

    return _with_app(args, cfg, work)


def cmd_outbox(args: argparse.Namespace, cfg: Config) -> int:
    def work(app: App) -> int:
        if args.send:
            _deliver(app)
        emails = all_emails(app.store)
        if not emails:
            print("The outbox is empty.")
        for e in emails:
            when = e.sent_at or e.next_attempt_at
            extra = f"  ({e.last_error})" if e.last_error and e.state != "sent" else ""
            print(
                f"{e.created_at:%Y-%m-%d %H:%M}  {e.state:<7}  {e.kind:<15}  {e.to_email}  "
                f"tries {e.attempts}, {'sent' if e.sent_at else 'next'} {when:%H:%M:%S}{extra}"
            )
        return 0

    return _with_app(args, cfg, work)


# ---------------------------------------------------------------- helpers
def _centre(app: App, centre_id: str) -> str:
    centre = app.hub.centre(centre_id.strip().upper())
    if centre is None:
        raise UsageError(f"There is no centre {centre_id}.")
    return centre.centre_id


def _confirm(question: str) -> bool:
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _deliver(app: App) -> None:
    from bot.mailer import Mailer

    said = Mailer(app.store, app.config).deliver_and_say()
    if said:
        print(said)


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's own --data-dir default must not hide one given earlier.
    common.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="where the store lives (default: $HUB_DATA_DIR or ./data)",
    )
    parser = argparse.ArgumentParser(
        prog="hubbot",
        parents=[common],
        description="School Support Hub bot: chat front ends and the operator's tools.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Command, help_text: str, parent=sub) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        p = parent.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    from bot import commands_running

    commands_running.register(add)

    centre = sub.add_parser("centre", help="create centres, hand over the coordinator role")
    centre_sub = centre.add_subparsers(dest="centre_command", metavar="ACTION", required=True)
    p = add("add", cmd_centre_add, "create a centre and invite its coordinator", centre_sub)
    p.add_argument("centre_id")
    p.add_argument("--name", required=True)
    p.add_argument("--coordinator-name", required=True)
    p.add_argument("--coordinator-email", required=True)
    p = add(
        "coordinator",
        cmd_centre_coordinator,
        "hand the coordinator role to another account",
        centre_sub,
    )
    p.add_argument("centre_id")
    p.add_argument("email")

    users = sub.add_parser("users", help="import or export a centre's accounts as CSV")
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    p = add("import", cmd_users_import, "add accounts from CSV (name,email,admin,sites)", users_sub)
    p.add_argument("centre_id")
    p.add_argument("file")
    p.add_argument("--yes", action="store_true", help="create the valid rows without asking")
    p = add("export", cmd_users_export, "write the centre's accounts as CSV", users_sub)
    p.add_argument("centre_id")
    p.add_argument("--status", choices=["active", "suspended", "pending"])
    p.add_argument("--role", choices=["coordinator", "admin", "teacher"])

    data = sub.add_parser("data", help="import or export Progression Test data as CSV")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    p = add("import", cmd_data_import, "add Progression Test data from CSV", data_sub)
    p.add_argument("centre_id")
    p.add_argument("file")
    p = add("export", cmd_data_export, "write the centre's Progression Test data as CSV", data_sub)
    p.add_argument("centre_id")

    from bot import commands_store

    commands_store.register(sub, add)

    add("demo", cmd_demo, f"create the sample centre {DEMO_CENTRE} to try things on")
    p = add("outbox", cmd_outbox, "list emails and their delivery state")
    p.add_argument("--send", action="store_true", help="try delivering what is due first")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "run"])
    try:
        cfg = config_module.load(data_dir=getattr(args, "data_dir", None))
        setup_logging(cfg.log_level)
        return int(args.func(args, cfg) or 0)
    except (HubError, StoreError, ConfigError, SchemaTooNew, UsageError, CommandError) as exc:
        print(f"hubbot: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"hubbot: no such file: {exc.filename}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hubbot users export X | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # a directory for a file, no permission, disk full ...
        where = f": {exc.filename}" if exc.filename else ""
        print(f"hubbot: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
