"""The operator's command line, ``hubbot`` (also ``python -m bot``): every
command on a real store, errors as one line and a non-zero exit.

Most commands run in this process through ``bot.cli.main(argv)``; the ones
whose point is the real process (exit status, no traceback, the store lock)
run as ``python -m bot`` in a subprocess.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from bot.cli import main
from hub.schema import ACCOUNTS, DATA

ENV_NAMES = ("HUB_", "SMTP_", "TELEGRAM_", "SLACK_")


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No settings from the developer's environment or a ``.env`` file."""
    for name in list(os.environ):
        if name.startswith(ENV_NAMES):
            monkeypatch.delenv(name)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def hubbot(clean_env, data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch):  # type: ignore[no-untyped-def]
    """Run one ``hubbot`` command in this process: (exit status, stdout, stderr)."""

    def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        try:
            code = main([*argv, "--data-dir", str(data_dir)])
        finally:
            root.handlers[:], root.level = handlers, level
        out, err = capsys.readouterr()
        return code, out, err

    return run


def one_line_error(code: int, err: str) -> str:
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hubbot: ")
    return lines[0]


def subprocess_hubbot(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot ...``; output decoded but line endings kept as written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_NAMES)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def rows_of(csv_text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_text, newline="")))


def accounts_in(data_dir: Path, reopen) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    store = reopen(data_dir)
    try:
        return list(store.scan(ACCOUNTS))
    finally:
        store.close()


@pytest.fixture
def gb001(hubbot) -> None:  # type: ignore[no-untyped-def]
    code, _, err = hubbot(
        "centre",
        "add",
        "GB001",
        "--name",
        "Riverside School",
        "--coordinator-name",
        "Cora Coordinator",
        "--coordinator-email",
        "cora@riverside.school",
    )
    assert code == 0, err


# ------------------------------------------------ real processes: demo, lock
def test_demo_then_users_export_shows_the_sample_centre(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = subprocess_hubbot(tmp_path, "demo", "--data-dir", str(data))
    assert first.returncode == 0, first.stderr
    assert "Created the demo centre DEMO01" in first.stdout
    assert "coordinator@demo.school" in first.stdout
    assert "Emails: 8 delivered" in first.stdout
    assert len(list((data / "outbox").glob("*.eml"))) == 8
    again = subprocess_hubbot(tmp_path, "--data-dir", str(data), "demo")
    assert again.returncode == 0 and "already exists" in again.stdout
    export = subprocess_hubbot(tmp_path, "users", "export", "DEMO01", "--data-dir", str(data))
    assert export.returncode == 0, export.stderr
    assert export.stdout.startswith("name,email,role,status,sites,invitation_pending\r\n")
    rows = rows_of(export.stdout)
    assert len(rows) == 8
    by_email = {r["email"]: r for r in rows}
    assert by_email["coordinator@demo.school"]["role"] == "coordinator"
    assert by_email["farid.nasser@demo.school"]["status"] == "suspended"
    assert {r["role"] for r in rows} == {"coordinator", "admin", "teacher"}
    assert all(r["invitation_pending"] == "yes" and r["sites"].startswith("hub") for r in rows)
    assert by_email["chloe.martin@demo.school"]["name"] == "Chloé Martin"


def test_a_second_process_gets_one_clear_line(tmp_path: Path, reopen) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    store = reopen(data)
    try:
        done = subprocess_hubbot(tmp_path, "users", "export", "DEMO01", "--data-dir", str(data))
    finally:
        store.close()
    line = one_line_error(done.returncode, done.stderr)
    assert f"is in use by process {os.getpid()}" in line and "--data-dir" in line
    assert done.stdout == ""


def test_a_damaged_store_is_one_clear_line_and_left_alone(tmp_path: Path, reopen) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    reopen(data).close()
    write(data / "hub.json", b'{"accounts": {"a": ')
    done = subprocess_hubbot(tmp_path, "outbox", "--data-dir", str(data))
    line = one_line_error(done.returncode, done.stderr)
    assert "is damaged" in line and "not opened" in line
    assert (data / "hub.json").read_bytes() == b'{"accounts": {"a": '


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda snapshot: snapshot.unlink(), id="snapshot-removed"),
        pytest.param(lambda snapshot: snapshot.write_bytes(b"{}"), id="snapshot-emptied"),
    ],
)
def test_a_lost_snapshot_never_opens_an_empty_hub_nor_spoils_the_backup(  # type: ignore[no-untyped-def]
    tmp_path: Path, damage
) -> None:
    data = tmp_path / "data"
    for command in ("demo", "centre"):
        args = ["add", "GB001", "--name", "Riverside", "--coordinator-name", "Cora Rivers"]
        argv = [command] if command == "demo" else [command, *args, "--coordinator-email"]
        argv += [] if command == "demo" else ["cora@riverside.school"]
        done = subprocess_hubbot(tmp_path, *argv, "--data-dir", str(data))
        assert done.returncode == 0, done.stderr
    backup = (data / "hub.json.bak").read_bytes()
    damage(data / "hub.json")
    for argv in (("users", "export", "DEMO01"), ("demo",), ("remind", "--now"), ("outbox",)):
        done = subprocess_hubbot(tmp_path, *argv, "--data-dir", str(data))
        line = one_line_error(done.returncode, done.stderr)
        assert "damaged" in line and "hub.json.bak" in line and "not opened" in line
        assert "There is no centre" not in line and done.stdout == ""
    assert (data / "hub.json.bak").read_bytes() == backup


def test_store_compact_replaces_a_larger_backup_only_when_told(hubbot, data_dir, reopen) -> None:  # type: ignore[no-untyped-def]
    import json

    from hub.schema import CENTRES

    with reopen(data_dir) as store, store.transaction() as tx:
        for i in range(5):
            tx.put(CENTRES, f"GB{i}", {"name": f"School {i}", "coordinator_id": None})
    with reopen(data_dir) as store, store.transaction() as tx:  # now the backup holds 5
        for i in range(5):
            tx.delete(CENTRES, f"GB{i}")
    assert hubbot("store", "compact")[0] == 0  # the store of 0 would replace it: kept
    assert len(json.loads((data_dir / "hub.json.bak").read_bytes())[CENTRES]) == 5
    code, out, _ = hubbot("store", "compact", "--replace-backup")
    assert code == 0 and "Compacted" in out
    assert json.loads((data_dir / "hub.json.bak").read_bytes())[CENTRES] == {}


# --------------------------------------------------------------- centres
def test_centre_add_creates_the_centre_and_invites_its_coordinator(
    hubbot, data_dir, reopen
) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = hubbot(
        "centre",
        "add",
        "gb001",
        "--name",
        "Riverside School",
        "--coordinator-name",
        "Cora Coordinator",
        "--coordinator-email",
        "Cora@Riverside.School",
    )
    assert code == 0
    assert "Created centre GB001 (Riverside School)." in out
    assert "Coordinator Cora Coordinator <Cora@riverside.school>: invitation queued" in out
    assert "Emails: 1 delivered to" in out
    accounts = accounts_in(data_dir, reopen)
    assert [(a["role"], a["centre_id"]) for a in accounts] == [("coordinator", "GB001")]


@pytest.mark.parametrize(
    "argv,words",
    [
        (["GB001", "cora@other.school"], "already exists"),
        (["GB002", "CORA@riverside.school"], "already used"),
        (["GB 3", "x@riverside.school"], "centre id"),
        (["GB004", "not-an-address"], "not a valid email address"),
    ],
)
def test_centre_add_errors_are_one_line(hubbot, gb001, data_dir, reopen, argv, words) -> None:  # type: ignore[no-untyped-def]
    before = accounts_in(data_dir, reopen)
    centre_id, email = argv
    code, _, err = hubbot(
        "centre",
        "add",
        centre_id,
        "--name",
        "Another School",
        "--coordinator-name",
        "Olga Other",
        "--coordinator-email",
        email,
    )
    assert words in one_line_error(code, err)
    assert accounts_in(data_dir, reopen) == before


def test_centre_coordinator_hands_over(hubbot, gb001, data_dir, reopen, tmp_path) -> None:  # type: ignore[no-untyped-def]
    csv_file = write(
        tmp_path / "one.csv", "name,email,admin\nTom Teacher,tom@riverside.school,no\n"
    )
    assert hubbot("users", "import", "GB001", str(csv_file), "--yes")[0] == 0
    code, out, _ = hubbot("centre", "coordinator", "GB001", "TOM@riverside.school")
    assert code == 0
    assert "Tom Teacher <tom@riverside.school> is now the coordinator of GB001." in out
    assert "Cora Coordinator <cora@riverside.school> keeps admin rights." in out
    roles = {a["email"]: a["role"] for a in accounts_in(data_dir, reopen)}
    assert roles == {"cora@riverside.school": "admin", "tom@riverside.school": "coordinator"}
    for argv, words in [
        (["GB001", "nobody@riverside.school"], "no account"),
        (["GB999", "tom@riverside.school"], "no centre"),
        (["GB001", "tom@riverside.school"], "already the coordinator"),
    ]:
        code, _, err = hubbot("centre", "coordinator", *argv)
        assert words in one_line_error(code, err)


# --------------------------------------------------------- users import
GOOD_AND_BAD = (
    "name,email,admin,sites\r\n"
    "Ada Admin,ada@riverside.school,yes,primary;lower-secondary\r\n"
    '"Smith, Jane",jane@riverside.school,no,"primary, forums"\r\n'
    "Bad Mail,not-an-address,no,\r\n"
    "Ada Again,ADA@riverside.school,no,\r\n"
    "Taken,cora@riverside.school,no,\r\n"
    "Odd Site,odd@riverside.school,no,moon-base\r\n"
    "Odd Admin,oddadmin@riverside.school,perhaps,\r\n"
    ",noname@riverside.school,no,\r\n"
    f"{'L' * 201},long@riverside.school,no,\r\n"
    "Bell\x07Name,bell@riverside.school,no,\r\n"
    "\r\n"
    "Tess Teacher,tess@riverside.school,,test maker\r\n"
)


def test_users_import_previews_every_row_then_asks(
    hubbot, gb001, data_dir, reopen, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    csv_file = write(tmp_path / "people.csv", GOOD_AND_BAD)
    before = accounts_in(data_dir, reopen)
    code, out, _ = hubbot("users", "import", "GB001", str(csv_file), stdin="n\n")
    assert code == 1 and "Nothing was created." in out
    assert accounts_in(data_dir, reopen) == before
    lines = [line for line in out.splitlines() if line.startswith("row ")]
    assert len(lines) == 11
    problems = {line.split(":")[0]: line for line in lines}
    assert "ok" in problems["row 2"] and "<ada@riverside.school>, admin" in problems["row 2"]
    assert "ok" in problems["row 3"] and "Smith, Jane" in problems["row 3"]
    assert "not a valid email address" in problems["row 4"]
    assert "appears twice in this list (first on row 1)" in problems["row 5"]
    assert "already used" in problems["row 6"]
    assert "Unknown site 'moon-base'" in problems["row 7"]
    assert "admin must be yes or no" in problems["row 8"]
    assert "name" in problems["row 9"]
    assert "too long" in problems["row 10"]
    assert "control characters" in problems["row 11"]
    assert "ok" in problems["row 12"] and "test-maker" in problems["row 12"]
    assert "Create 3 account(s) in GB001? [y/N]" in out


def test_users_import_with_yes_creates_the_valid_rows_and_exits_non_zero(
    hubbot, gb001, data_dir, reopen, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    csv_file = write(tmp_path / "people.csv", GOOD_AND_BAD)
    code, out, _ = hubbot("users", "import", "GB001", str(csv_file), "--yes")
    assert code == 1  # some rows were refused
    assert "Created 3 account(s); each was sent an invitation." in out
    accounts = {a["email"]: a for a in accounts_in(data_dir, reopen)}
    assert set(accounts) == {
        "cora@riverside.school",
        "ada@riverside.school",
        "jane@riverside.school",
        "tess@riverside.school",
    }
    assert accounts["ada@riverside.school"]["role"] == "admin"
    assert accounts["ada@riverside.school"]["sites"] == ["hub", "primary", "lower-secondary"]
    assert accounts["jane@riverside.school"]["name"] == "Smith, Jane"
    assert accounts["jane@riverside.school"]["sites"] == ["hub", "primary", "forums"]
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 4


def test_users_import_answered_yes_and_all_valid_exits_zero(
    hubbot, gb001, data_dir, reopen, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # Excel's "CSV UTF-8": a BOM, CRLF, accented names.
    text = "name,email,admin,sites\r\nChloé Martin,chloe@riverside.school,no,primary\r\n"
    csv_file = write(tmp_path / "excel.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))
    code, out, _ = hubbot("users", "import", "gb001", str(csv_file), stdin="y\n")
    assert code == 0, out
    names = {a["name"] for a in accounts_in(data_dir, reopen)}
    assert "Chloé Martin" in names


@pytest.mark.parametrize(
    "content,words",
    [
        ("Chloé,chloe@riverside.school\n".encode("latin-1"), "not UTF-8"),
        (b"name,email\nJos\xe9,jose@riverside.school\n", "not UTF-8"),
        ("naam,mail\nAda,ada@riverside.school\n", "missing: name, email"),
        ("name,address\nAda,ada@riverside.school\n", "missing: email"),
        ("name,email,admin,sites\n", "no rows"),
        ("", "missing: name, email"),
        (b"name,email\nAda\x00,ada@riverside.school\n", "binary"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "UTF-8"),
    ],
)
def test_users_import_refuses_a_bad_file_whole(
    hubbot, gb001, data_dir, reopen, tmp_path, content, words
) -> None:  # type: ignore[no-untyped-def]
    before = accounts_in(data_dir, reopen)
    csv_file = write(tmp_path / "bad.csv", content)
    code, _, err = hubbot("users", "import", "GB001", str(csv_file), "--yes")
    assert words in one_line_error(code, err)
    assert accounts_in(data_dir, reopen) == before


def test_users_import_file_and_centre_errors(hubbot, gb001, tmp_path) -> None:  # type: ignore[no-untyped-def]
    csv_file = write(tmp_path / "ok.csv", "name,email\nAda,ada@riverside.school\n")
    code, _, err = hubbot("users", "import", "GB001", str(tmp_path / "missing.csv"))
    assert "no such file" in one_line_error(code, err)
    code, _, err = hubbot("users", "import", "NOPE1", str(csv_file), "--yes")
    assert "There is no centre NOPE1" in one_line_error(code, err)
    code, _, err = hubbot("users", "import", "GB001", str(tmp_path), "--yes")  # a directory
    assert str(tmp_path) in one_line_error(code, err)


def test_users_import_refuses_when_every_row_is_bad(hubbot, gb001, tmp_path) -> None:  # type: ignore[no-untyped-def]
    csv_file = write(tmp_path / "bad.csv", "name,email\nAda,nope\n")
    code, out, _ = hubbot("users", "import", "GB001", str(csv_file), "--yes")
    assert code == 1 and "No valid rows; nothing was created." in out


# --------------------------------------------------------- users export
def test_users_export_neutralises_formulas_and_filters(hubbot, gb001, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (
        "name,email,admin\n"
        '=HYPERLINK("http://evil"),f1@riverside.school,no\n'
        "+SUM(1),f2@riverside.school,no\n"
        "-2+3,f3@riverside.school,yes\n"
        "@cmd,f4@riverside.school,no\n"
        '"Quote ""Q"" Comma, Jr.",f5@riverside.school,no\n'
        "Normal Name,f6@riverside.school,no\n"
    )
    csv_file = write(tmp_path / "formulas.csv", text)
    assert hubbot("users", "import", "GB001", str(csv_file), "--yes")[0] == 0
    code, out, _ = hubbot("users", "export", "GB001")
    assert code == 0
    rows = {r["email"]: r for r in rows_of(out)}
    assert rows["f1@riverside.school"]["name"] == '\'=HYPERLINK("http://evil")'
    assert rows["f2@riverside.school"]["name"] == "'+SUM(1)"
    assert rows["f3@riverside.school"]["name"] == "'-2+3"
    assert rows["f4@riverside.school"]["name"] == "'@cmd"
    assert rows["f5@riverside.school"]["name"] == 'Quote "Q" Comma, Jr.'
    assert rows["f6@riverside.school"]["name"] == "Normal Name"
    assert '"Quote ""Q"" Comma, Jr."' in out  # RFC 4180 quoting
    assert all(line.endswith("\r") for line in out.split("\n")[:-1])
    code, out, _ = hubbot("users", "export", "GB001", "--role", "admin")
    assert [r["email"] for r in rows_of(out)] == ["f3@riverside.school"]
    code, out, _ = hubbot(
        "users", "export", "GB001", "--role", "coordinator", "--status", "pending"
    )
    assert [r["email"] for r in rows_of(out)] == ["cora@riverside.school"]
    code, out, _ = hubbot("users", "export", "GB001", "--status", "suspended")
    assert rows_of(out) == []


def test_users_export_of_an_unknown_centre(hubbot, gb001) -> None:  # type: ignore[no-untyped-def]
    code, out, err = hubbot("users", "export", "XX1")
    assert "There is no centre XX1" in one_line_error(code, err)
    assert out == ""


# ---------------------------------------------------------- data import/export
def test_data_import_and_export(hubbot, gb001, data_dir, reopen, tmp_path) -> None:  # type: ignore[no-untyped-def]
    people = write(tmp_path / "p.csv", "name,email\nTess Teacher,tess@riverside.school\n")
    assert hubbot("users", "import", "GB001", str(people), "--yes")[0] == 0
    data = write(
        tmp_path / "data.csv",
        "owner_email,site,title,class,date,results\n"
        "TESS@riverside.school,primary,Stage 4 English,4B,2026-06-12,28\n"
        "tess@riverside.school,Lower-Secondary,Stage 8 Maths,8A,,\n"
        "nobody@riverside.school,primary,Lost,,,\n"
        "tess@riverside.school,forums,Wrong site,,,\n"
        "tess@riverside.school,primary,,,,\n"
        "tess@riverside.school,primary,Negative,,,-3\n"
        "tess@riverside.school,primary,=1+1,,,x\n"
        "tess@riverside.school,primary,=cmd|' /C calc'!A0,,,5\n",
    )
    code, out, _ = hubbot("data", "import", "GB001", str(data))
    assert code == 1
    assert "Imported 3 of 8 record(s)." in out
    refused = [line for line in out.splitlines() if "refused" in line]
    assert [line.split(":")[0] for line in refused] == ["row 4", "row 5", "row 6", "row 7", "row 8"]
    assert "no account 'nobody@riverside.school'" in refused[0]
    assert "site must be primary or lower-secondary" in refused[1]
    assert "title is empty" in refused[2]
    assert "whole number" in refused[3] and "whole number" in refused[4]
    code, out, _ = hubbot("data", "export", "GB001")
    assert code == 0
    rows = rows_of(out)
    assert sorted(r["title"] for r in rows) == [
        "'=cmd|' /C calc'!A0",
        "Stage 4 English",
        "Stage 8 Maths",
    ]
    assert {r["owner_email"] for r in rows} == {"tess@riverside.school"}
    assert {r["site"] for r in rows} == {"primary", "lower-secondary"}
    store = reopen(data_dir)
    try:
        assert store.count(DATA) == 3
    finally:
        store.close()


def test_data_import_bad_files(hubbot, gb001, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for content, words in [
        ("owner,site\nx,primary\n", "missing: owner_email, title"),
        (b"owner_email,site,title\n\xff\xfe,primary,x\n", "not UTF-8"),
    ]:
        code, _, err = hubbot("data", "import", "GB001", str(write(tmp_path / "d.csv", content)))
        assert words in one_line_error(code, err)
    code, _, err = hubbot("data", "export", "NOPE1")
    assert "no centre" in one_line_error(code, err)


# ------------------------------------------------------------------ outbox
def test_outbox_lists_and_sends_by_smtp_when_the_server_is_back(
    hubbot, gb001, smtp_server, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = hubbot("outbox")
    assert code == 0
    assert "sent" in out and "invitation" in out and "cora@riverside.school" in out
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("HUB_MAIL_FROM", "hub@riverside.school")
    hill = ["--name", "Hill School", "--coordinator-name", "Hal Hill"]
    code, out, _ = hubbot("centre", "add", "GB002", *hill, "--coordinator-email", "hal@hill.school")
    assert code == 0 and "Emails: 0 delivered by SMTP, 1 waiting to retry." in out
    code, out, _ = hubbot("outbox")
    hal = next(line for line in out.splitlines() if "hal@hill.school" in line)
    assert "pending" in hal and "tries 1" in hal and "Connection refused" in hal
    smtp_server.start()
    code, out, _ = hubbot("outbox", "--send")  # not due yet: backing off
    assert smtp_server.received == []
    assert "pending" in next(line for line in out.splitlines() if "hal@hill.school" in line)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=1)):
        code, out, _ = hubbot("outbox", "--send")
    assert code == 0 and "Emails: 1 delivered by SMTP." in out
    hal = next(line for line in out.splitlines() if "hal@hill.school" in line)
    assert "sent" in hal and "tries 2" in hal
    assert [r for _, r, _ in smtp_server.received] == [["hal@hill.school"]]
    code, out, _ = hubbot("outbox", "--send")
    assert "Emails:" not in out and len(smtp_server.received) == 1


def test_every_command_answers_help(hubbot) -> None:  # type: ignore[no-untyped-def]
    for argv in (["--help"], ["users", "import", "--help"], ["centre", "add", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
    with pytest.raises(SystemExit) as exited:
        main(["centre", "add", "GB001"])  # required options missing
    assert exited.value.code == 2
