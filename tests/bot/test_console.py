"""The console front end, as an operator uses it: ``python -m bot --data-dir D
console --as EMAIL`` in a real process with piped input. It reads a line at
a time, prints every reply (buttons as ``[n] Label``, tick boxes ✅/⬜), and
exits 0 at the end of the input. Every conversation is driven through it,
happy path and a refusal; a process killed in the middle of ``add`` and
started again carries on; hostile lines never produce a traceback.
"""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.console import ConsoleRenderer, escape
from handlers.replies import Button, Press, Reply, Span, Text, Tick
from hub import Hub
from hub.demo import ensure_demo
from hub.schema import INDEXES, migrate
from storage.tinydb_store import TinyDBStore

PYTHON = sys.executable
COORDINATOR = "coordinator@demo.school"
AMIRA = "amira.haddad@demo.school"
CHLOE = "chloe.martin@demo.school"
FARID = "farid.nasser@demo.school"
GRACE = "grace.mensah@demo.school"


def _env() -> dict[str, str]:
    """No chat tokens, no SMTP: the console alone, mail written as files."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "SLACK_", "SMTP_", "HUB_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    store = TinyDBStore(data_dir, INDEXES)
    migrate(store)
    ensure_demo(Hub(store))
    store.close()
    return data_dir


def console(
    data_dir: Path, lines: list[str], as_email: str = COORDINATOR, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "bot", "--data-dir", str(data_dir), "console", "--as", as_email],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        cwd=data_dir.parent,
    )


def chat(data_dir: Path, lines: list[str], as_email: str = COORDINATOR) -> str:
    """Run a session; it must end cleanly. Returns what it printed."""
    done = console(data_dir, lines, as_email)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "went wrong on our side" not in done.stdout
    return done.stdout


def after(out: str, typed: str) -> str:
    """What was printed in answer to the last line ``typed``."""
    return out.rsplit(f"> {typed}\n", 1)[1].split("\n> ", 1)[0]


def hub_of(data_dir: Path) -> tuple[Hub, TinyDBStore]:
    store = TinyDBStore(data_dir, INDEXES)
    return Hub(store), store


def account(data_dir: Path, email: str):  # type: ignore[no-untyped-def]
    hub, store = hub_of(data_dir)
    try:
        return hub.account_by_email(email)
    finally:
        store.close()


def emails_to(data_dir: Path, email: str) -> list[str]:
    """The .eml files written for ``email`` (delivered by the console's mailer)."""
    return [
        p.read_text()
        for p in sorted((data_dir / "outbox").glob("*.eml"))
        if f"<{email}>" in p.read_text().split("\n\n", 1)[0]
    ]


def outbox_count(data_dir: Path, email: str, kind: str) -> int:
    _, store = hub_of(data_dir)
    try:
        return sum(1 for d in store.scan("outbox") if d["to_email"] == email and d["kind"] == kind)
    finally:
        store.close()


# ------------------------------------------------------------ the renderer
def test_buttons_show_as_numbered_labels_and_ticks_show_their_state() -> None:
    renderer = ConsoleRenderer()
    reply = Reply(
        ((Span("Which sites?"),),),
        (Button("Done", "t3", "confirm"), Button("Cancel", "t4", "cancel")),
        (Tick("Test Maker", "t1", True), Tick("Forums", "t2", False)),
    )
    assert renderer.render(reply).splitlines() == [
        "Which sites?",
        "  [1] ✅ Test Maker",
        "  [2] ⬜ Forums",
        "  [3] Done",
        "  [4] Cancel",
    ]
    assert renderer.read("2") == Press("t2")
    assert renderer.read(" 3 ") == Press("t3")
    assert renderer.read("Done") == Text("Done")  # the engine matches labels
    assert renderer.read("5") == Text("5")
    assert renderer.out_of_range("5") == (
        "There is no [5] here: type a number from 1 to 4, or the answer itself."
    )
    assert renderer.out_of_range("0") is not None
    assert renderer.out_of_range("2") is None and renderer.out_of_range("two") is None


def test_numbers_python_cannot_read_are_just_text() -> None:
    renderer = ConsoleRenderer()
    renderer.render(Reply(((Span("x"),),), (Button("One", "t1"),)))
    for typed in ("²", "١", "1" * 5000, "Ⅻ"):
        assert renderer.read(typed) == Text(typed)
    assert renderer.out_of_range("1" * 5000).startswith("There is no [111111…] here")


def test_a_final_reply_forgets_the_numbers() -> None:
    renderer = ConsoleRenderer()
    renderer.render(Reply(((Span("x"),),), (Button("One", "t1"),)))
    renderer.render(Reply(((Span("done"),),), final=True))
    assert renderer.read("1") == Text("1")
    assert renderer.out_of_range("1") is None


def test_user_text_cannot_drive_the_terminal() -> None:
    renderer = ConsoleRenderer()
    reply = Reply(
        ((Span("\x1b[2J\x1b]0;pwned\x07 \r over", "bold"),),), (Button("\x1b[31mx", "t"),)
    )
    out = renderer.render(reply)
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert escape("tab\tok") == "tab\tok"


# ------------------------------------------------------- piped input, exit 0
def test_piped_session_prints_every_reply_and_exits_0_at_end_of_input(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, ["help", "16"])
    assert out.startswith("Signed in as Cora Ordinator (coordinator, Demo International School).")
    assert "> help\n" in out and "  [1] add - add one or more accounts\n" in out
    assert "  [17] Cancel" in after(out, "help")
    assert "Cora Ordinator\nEmail: coordinator@demo.school\nRole: coordinator" in after(out, "16")


def test_empty_input_exits_0(demo_dir) -> None:  # type: ignore[no-untyped-def]
    done = console(demo_dir, [])
    assert done.returncode == 0 and "Signed in as" in done.stdout


def test_an_unknown_or_suspended_account_is_one_line_and_exit_1(demo_dir) -> None:  # type: ignore[no-untyped-def]
    for email in ("nobody@demo.school", FARID):
        done = console(demo_dir, ["help"], as_email=email)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr
        assert "No active hub account" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_hubbot_run_starts_the_console_on_a_new_demo_centre(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run(
        [PYTHON, "-m", "bot", "--data-dir", str(tmp_path / "d"), "run"],
        input="help\nme\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**_env(), "HUB_HTTP_PORT": "0"},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Created the demo centre DEMO01" in done.stdout
    assert "Signed in as Cora Ordinator" in done.stdout
    assert "[16] me - your own account" in done.stdout
    assert "Traceback" not in done.stderr


# ------------------------------------------------------- every conversation
def test_add_with_numbers_and_tick_boxes(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(
        demo_dir,
        ["add", "Jane Smith", "jane@school.org", "2", "1", "6", "7", "2", "1"],
    )
    assert "  [1] No, a teacher\n  [2] Yes, admin\n  [3] Cancel" in out
    assert "  [1] ✅ Cambridge Primary support site" in after(out, "6")
    assert "  [6] ✅ Online discussion forums" in after(out, "6")
    assert "  [2] ⬜ Cambridge Lower Secondary support site" in after(out, "6")
    assert "Added 1 account(s); an invitation email was sent to each" in out
    jane = account(demo_dir, "jane@school.org")
    assert jane.role.value == "admin" and jane.sites == ("hub", "primary", "forums")
    assert emails_to(demo_dir, "jane@school.org")  # delivered to <data dir>/outbox


def test_add_one_line_and_a_refused_address(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(
        demo_dir,
        [
            "add Jane Smith jane@@school",
            "jane@school.org",
            "No, a teacher",
            "done",
            "review and confirm",
            "Add 1 account(s)",
            "add Chloe Two chloe.martin@demo.school",
        ],
    )
    assert "not a valid email address" in after(out, "add Jane Smith jane@@school")
    assert "Added 1 account(s)" in out
    assert "already used by another hub account" in after(
        out, "add Chloe Two chloe.martin@demo.school"
    )


def test_add_refused_for_a_teacher(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, ["add Jane Smith jane@school.org"], as_email=CHLOE)
    assert "Only the coordinator and admins can add accounts" in out
    assert account(demo_dir, "jane@school.org") is None


def test_import_a_pasted_line_and_a_refused_one(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(
        demo_dir,
        [
            "import",
            "Kim Lee, kim@school.org, no, primary;forums",
            "1",
            "import",
            "Bad Row, not-an-address",
            "cancel",
        ],
    )
    assert "✓ row 1: Kim Lee <kim@school.org>" in out and "Added 1 account(s)" in out
    assert "✗ row 1: Bad Row <not-an-address>" in out and "Nothing can be added" in out
    assert account(demo_dir, "kim@school.org").sites == ("hub", "primary", "forums")


def test_users_find_and_open_a_card(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, ["users", "cancel", "find suspended", "1"])
    assert "Page 1 of 1 (8 in all)." in after(out, "users")
    assert "  [1] Farid Nasser <farid.nasser@demo.school> · suspended" in out
    assert "Status: suspended" in after(out, "1")
    refused = chat(demo_dir, ["users", "find farid"], as_email=CHLOE)
    assert refused.count("Teachers can use 'me' and 'reset' only") == 2
    assert "Farid" not in refused


def test_show_card_buttons_and_refusal(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, [f"show {FARID}"])
    assert "  [1] Edit\n  [2] Restore\n  [3] Transfer data\n  [4] Delete\n  [5] Cancel" in out
    admin = chat(demo_dir, [f"show {FARID}"], as_email=AMIRA)
    assert "  [1] Edit\n  [2] Restore\n  [3] Transfer data\n  [4] Cancel" in admin
    teacher = chat(demo_dir, [f"show {FARID}"], as_email=CHLOE)
    assert "Teachers can use 'me' and 'reset' only" in teacher and "Farid" not in teacher


def test_edit_and_a_refusal(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(
        demo_dir,
        ["edit dev", "1", "Devan Patel", "4", "1", "edit ben.okafor@demo.school"],
        as_email=AMIRA,
    )
    assert "Saved the changes to Devan Patel" in out
    assert "Admins can edit teachers' details and their own" in out
    assert account(demo_dir, "dev.patel@demo.school").name == "Devan Patel"


def test_admin_unadmin_and_rule_10(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(
        demo_dir,
        ["admin grace", "1", "unadmin grace", "1", f"unadmin {COORDINATOR}", "cancel"],
    )
    assert "Grace Mensah now has admin rights" in out
    assert "Grace Mensah no longer has admin rights" in out
    assert "You can't remove the admin rights of yourself through the chat" in out
    refused = chat(demo_dir, ["admin grace"], as_email=AMIRA)
    assert "Only the centre's coordinator can give admin rights" in refused
    assert account(demo_dir, GRACE).role.value == "teacher"


def test_suspend_restore_and_refusals(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(
        demo_dir,
        ["suspend grace", "1", "restore grace", "1", f"suspend {COORDINATOR}", "cancel"],
    )
    assert "Grace Mensah is suspended and can no longer log in" in out
    assert "Grace Mensah is active again" in out
    assert "You can't suspend yourself through the chat" in out
    refused = chat(demo_dir, ["suspend grace", "restore farid"], as_email=CHLOE)
    assert "Only the coordinator and admins can suspend accounts" in refused
    assert "Only the coordinator and admins can restore accounts" in refused
    assert account(demo_dir, GRACE).active


def test_transfer_site_choice_and_eligible_targets(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, ["transfer farid", "2", "Ben Okafor", "1", "cancel"])
    assert "  [1] Cambridge Primary support site (1)\n  [2] Cambridge Lower Secondary" in out
    targets = after(out, "2")
    assert "Ben Okafor" in targets and "Eun-ji Park" in targets
    assert "Chloé" not in targets and "Farid Nasser <" not in targets
    assert "Moved 1 record(s) on the Cambridge Lower Secondary support site" in out
    refused = chat(demo_dir, ["transfer grace"])
    assert "holds no Progression Test data; nothing to move" in refused


def test_delete_with_data_transfers_first_then_deletes(demo_dir) -> None:  # type: ignore[no-untyped-def]
    """The story of the issue's "done when", on the demo's suspended teacher."""
    out = chat(
        demo_dir,
        [
            "delete farid",
            "1",  # Transfer data first
            "1",  # Cambridge Primary support site
            "Dev Patel",
            "1",  # Transfer
            "1",  # Transfer the rest
            "Eun-ji Park",
            "1",  # Transfer
            "1",  # Delete
            "1",  # Yes, delete Farid Nasser
        ],
    )
    assert "still owns Progression Test data" in out
    assert "  [1] Yes, delete Farid Nasser" in out
    assert "Farid Nasser <farid.nasser@demo.school> was deleted." in out
    assert account(demo_dir, FARID) is None


def test_delete_refusals(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, ["delete grace", "cancel"])
    assert "Only a suspended account can be deleted" in out and "[1] Suspend first" in out
    refused = chat(demo_dir, ["delete farid"], as_email=AMIRA)
    assert "Only the centre's coordinator can delete accounts" in refused
    assert account(demo_dir, FARID) is not None


def test_reset_resends_a_pending_invitation_and_a_teacher_resets_only_their_own(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, ["reset grace", "1"])
    assert "The invitation was sent again to grace.mensah@demo.school" in out
    assert outbox_count(demo_dir, GRACE, "invitation") == 2
    assert len(emails_to(demo_dir, GRACE)) == 2  # both delivered as .eml files
    teacher = chat(demo_dir, ["reset grace.mensah@demo.school", "reset", "1"], as_email=CHLOE)
    assert "Teachers can only reset their own password" in teacher
    assert "The invitation was sent again to chloe.martin@demo.school" in teacher
    assert outbox_count(demo_dir, GRACE, "invitation") == 2
    assert outbox_count(demo_dir, CHLOE, "invitation") == 2


def test_audit_pages_and_teachers_are_refused(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, ["audit", "1", "Previous"])
    assert "Latest changes, page 1 of 2:" in out and "  [1] Next" in out
    assert "Latest changes, page 2 of 2:" in after(out, "1")
    assert "page 1 of 2" in after(out, "Previous")
    refused = chat(demo_dir, ["audit"], as_email=CHLOE)
    assert "Only the coordinator and admins can see the audit log" in refused


def test_me_and_its_reset_button(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, ["me", "1", "2"], as_email=CHLOE)
    assert "Chloé Martin\nEmail: chloe.martin@demo.school\nRole: teacher" in out
    assert "  [1] Reset my password" in out
    assert "Cancelled 'reset'; nothing was changed." in out


def test_snooze_and_a_refusal(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, ["snooze farid", "1", "snooze grace"])
    assert "Farid Nasser will not appear in reminders until" in out
    assert "Grace Mensah is not suspended; there is nothing to snooze." in out


def test_link_is_not_a_console_command(demo_dir) -> None:  # type: ignore[no-untyped-def]
    out = chat(demo_dir, ["link", "unlink"])
    assert after(out, "link").startswith("I don't know link")


# ---------------------------------------------------------- hostile lines
def test_hostile_lines_never_break_the_console(demo_dir) -> None:  # type: ignore[no-untyped-def]
    lines = [
        "help",
        "99",
        "0",
        "1" * 5000,
        "²",
        "add",
        "\x1b[2J\x1b]0;pwned\x07<b>Jane</b>",
        "<b>Jane</b> <!channel> &amp; *x*",
        "\u202eevil",
        "A" * 10_000,
        "cancel",
        "find \x00\x1b[31m",
        "show " + "é" * 3000,
        "cancel",
        "   ",
        "",
        "مرحبا 👩‍🏫 e\u0301\u0301",
        "delete",
        "99",
        "cancel",
    ]
    before_hub = (demo_dir / "hub.json").read_bytes()
    out = chat(demo_dir, lines)
    assert "\x1b" not in out and "\x07" not in out and "\x00" not in out
    assert "There is no [99] here: type a number from 1 to 17" in out
    assert "There is no [111111…] here" in out
    assert "> \\x1b[2J\\x1b]0;pwned\\x07<b>Jane</b>\nA name cannot contain control" in out
    assert "What is <b>Jane</b> <!channel> &amp; *x*'s email address?" in out  # as typed
    assert max(len(line) for line in out.splitlines() if not line.startswith("> ")) < 500
    assert out.count("Cancelled") >= 2
    # nothing but the conversation state changed
    hub, store = hub_of(demo_dir)
    try:
        assert len(list(store.scan("accounts"))) == 8
        assert hub.account_by_email(FARID) is not None
    finally:
        store.close()
    assert before_hub  # the store opened again after the session


# ------------------------------------------------- killed in the middle
def _read_until(proc: subprocess.Popen[bytes], marker: bytes, timeout: float = 20) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {marker!r}: {seen.decode(errors='replace')}"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"the console ended early: {seen.decode(errors='replace')}"
            seen += chunk
    return seen


def test_a_console_killed_in_the_middle_of_add_resumes_it(demo_dir) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.Popen(
        [PYTHON, "-m", "bot", "--data-dir", str(demo_dir), "console", "--as", COORDINATOR],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=demo_dir.parent,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"add\nJane Smith\njane@school.org\n2\n3\n")
        proc.stdin.flush()
        seen = _read_until(proc, "[3] ✅ Test Maker".encode())
        assert b"Give Jane Smith admin rights?" in seen
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    # Started again: the question it was waiting on is shown again, with the
    # answers so far, and its [n] choose as before.
    out = chat(demo_dir, ["1", "7", "2", "1"])
    waiting = out.split("\n> ", 1)[0]
    assert "You were in the middle of something" in waiting
    assert "Which support sites should Jane Smith use?" in waiting
    assert "  [3] ✅ Test Maker" in waiting
    first = out.split("> 1\n", 1)[1].split("\n> ", 1)[0]
    assert "  [1] ✅ Cambridge Primary support site" in first
    assert "Added 1 account(s)" in out
    jane = account(demo_dir, "jane@school.org")
    assert jane.role.value == "admin"
    assert jane.sites == ("hub", "primary", "test-maker")


def test_renderer_and_run_console_in_process(demo_dir) -> None:  # type: ignore[no-untyped-def]
    """run_console itself, with string streams (no terminal): exit 0 at EOF."""
    from bot.console import run_console
    from handlers.conversations import all_conversations
    from handlers.engine import Engine
    from handlers.replies import Person

    hub, store = hub_of(demo_dir)
    try:
        coordinator = hub.account_by_email(COORDINATOR)
        person = Person("console", coordinator.account_id, coordinator.account_id)
        stdout = io.StringIO()
        code = run_console(
            Engine(hub, all_conversations()),
            person,
            stdin=io.StringIO("help\n\n99\n1\ncancel\n"),
            stdout=stdout,
        )
    finally:
        store.close()
    assert code == 0
    text = stdout.getvalue()
    assert "> 99\nThere is no [99] here" in text
    assert "What is the new person's full name?" in text
    assert "Cancelled 'add'; nothing was changed." in text
