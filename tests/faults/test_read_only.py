"""The store made read-only under the running bot, then writable again.

What "read-only" can mean for a running process: ``chmod`` is no use (the
bot keeps its journal open, and a descriptor opened for writing stays
writable; root ignores modes anyway), and a read-only remount is refused
while files on the mount are open for writing. What does stop a running
process is the immutable attribute, ``chattr +i`` (``FS_IOC_SETFLAGS``): from
then on the kernel refuses every write, truncate and new file with ``EPERM``,
through descriptors already open too — what the bot sees when an operator or
a backup tool freezes the store. It needs ``CAP_LINUX_IMMUTABLE`` and a
filesystem with the attribute (ext4, xfs, btrfs, tmpfs); where it is missing
these tests are skipped, saying why.

Expected: the user is told the change was not saved, never that it was done;
the bot answers the next message and exits cleanly even while the store is
frozen; when it is writable again the same change succeeds, once; a bot
started on a frozen store refuses with one clear line, no traceback.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import PYTHON, ConsoleBot, accounts_by_email, audit_counts, child_env, open_store

GRACE = "grace.mensah@demo.school"
DEV = "dev.patel@demo.school"
NOT_SAVED = "The change was not saved: the store is read-only. Nothing was changed"


def _chattr(flag: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["chattr", flag, *map(str, paths)], capture_output=True, text=True, check=False
    )


@pytest.fixture
def freeze(tmp_path: Path) -> Iterator[Callable[[Path, bool], None]]:
    """``freeze(data_dir, True)`` makes the store's files and directory
    immutable; ``freeze(data_dir, False)`` undoes it (also at the end)."""
    probe = tmp_path / "probe"
    probe.write_text("x")
    tried = _chattr("+i", probe)
    _chattr("-i", probe)
    if tried.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {tried.stderr.strip() or 'no chattr'}")
    frozen: list[Path] = []

    def apply(data_dir: Path, on: bool) -> None:
        paths = [*sorted(p for p in data_dir.iterdir() if p.is_file()), data_dir]
        result = _chattr("+i" if on else "-i", *paths)
        assert result.returncode == 0, result.stderr
        if on:
            frozen.extend(paths)

    yield apply
    if frozen:
        _chattr("-i", *frozen)


def test_a_frozen_store_is_told_the_bot_runs_on_and_recovers(
    demo_dir: Path, console: Callable[..., ConsoleBot], freeze: Callable[[Path, bool], None]
) -> None:
    bot = console(demo_dir)
    journal = demo_dir / "hub.journal"
    said = bot.send(f"/suspend {GRACE}", until="[2] Cancel")
    assert "Suspend Grace Mensah" in said

    freeze(demo_dir, True)
    size = journal.stat().st_size
    said = bot.send("Suspend", until="please try again")
    assert NOT_SAVED in said
    assert "is suspended" not in said
    assert journal.stat().st_size == size
    said = bot.send("/me", until="Cora Ordinator")  # the bot answers on
    assert "Traceback" not in said

    freeze(demo_dir, False)
    bot.send(f"/suspend {GRACE}", until="[2] Cancel")
    said = bot.send("Suspend", until="can no longer log in")
    assert "Grace Mensah is suspended" in said

    # Frozen again, then the end of input: the bot still leaves cleanly (its
    # closing snapshot cannot be written; the journal keeps every change).
    bot.send(f"/suspend {DEV}", until="[2] Cancel")
    bot.send("Suspend", until="can no longer log in")
    freeze(demo_dir, True)
    rc = bot.finish()
    assert "Traceback" not in bot.stderr, bot.stderr
    assert rc == 0, bot.stderr

    freeze(demo_dir, False)
    store = open_store(demo_dir)
    try:
        accounts = accounts_by_email(store)
        assert accounts[GRACE]["status"] == accounts[DEV]["status"] == "suspended"
        suspends = audit_counts(store, "suspend")
        assert suspends[GRACE] == suspends[DEV] == 1
    finally:
        store.close()


def test_a_bot_started_on_a_frozen_store_refuses_with_one_clear_line(
    demo_dir: Path, freeze: Callable[[Path, bool], None]
) -> None:
    freeze(demo_dir, True)
    done = subprocess.run(
        [PYTHON, "-m", "bot", "--data-dir", str(demo_dir), "console", "--as", GRACE],
        input=b"help\n",
        capture_output=True,
        cwd=demo_dir.parent,
        env=child_env(),
        timeout=60,
    )
    err = done.stderr.decode()
    assert done.returncode == 1, (done.returncode, err)
    assert "Traceback" not in err, err
    assert err.startswith("hubbot: ") and err.count("\n") == 1, err
    assert "Operation not permitted" in err and str(demo_dir) in err, err
    assert done.stdout == b""
