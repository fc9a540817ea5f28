"""The disk fills up under the running bot, then space returns.

How: the bot is the real ``hubbot console`` process. The test lowers its
``RLIMIT_FSIZE`` from outside with ``prlimit(2)`` (``resource.prlimit``: no
privilege is needed to lower a limit or raise it back up to the hard limit),
to the journal's current size or a few bytes more. The kernel then refuses
to let any file of that process grow past the limit: ``write`` stops short
at the limit, or fails with ``EFBIG`` at it (CPython ignores ``SIGXFSZ``),
exactly the two ways a write meets a full disk (a short write, then
``ENOSPC``). Lifting the limit is space coming back. Unlike a small tmpfs
this needs no mount, so it runs wherever the tests run.

Expected: the user is told the change was not saved, never that it was
done; the journal is cut back to where it was; the bot answers the next
message; when space returns the same change succeeds, once.
"""

from __future__ import annotations

import resource
import subprocess
from collections.abc import Callable
from pathlib import Path

from .conftest import PYTHON, ConsoleBot, accounts_by_email, audit_counts, child_env, open_store

GRACE = "grace.mensah@demo.school"
NOT_SAVED = "The change was not saved: the disk is full. Nothing was changed"
NOT_KEPT = "The change was not saved: the disk is full. This conversation could not be kept"
DONE_WORDS = ("is suspended", "Added ", "is active again")


def fill_disk(bot: ConsoleBot, room: int) -> int:
    """Let the bot's files grow ``room`` more bytes past the journal's size."""
    size = (bot.data_dir / "hub.journal").stat().st_size
    _, hard = resource.prlimit(bot.proc.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(bot.proc.pid, resource.RLIMIT_FSIZE, (size + room, hard))
    return size


def free_space(bot: ConsoleBot) -> None:
    _, hard = resource.prlimit(bot.proc.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(bot.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))


def never_done(text: str) -> None:
    assert not any(word in text for word in DONE_WORDS), text
    assert "Traceback" not in text


def test_disk_full_is_told_the_bot_runs_on_and_the_change_succeeds_later(
    demo_dir: Path, console: Callable[..., ConsoleBot]
) -> None:
    bot = console(demo_dir)
    journal = demo_dir / "hub.journal"

    # Full before a conversation starts: even its first question cannot be
    # kept, and the person is told so (not left waiting on a lost question).
    bot.send("help", until="Signed in")  # the bot is up
    bot.drain()
    fill_disk(bot, 0)
    said = bot.send("/add Zoe Quinn zoe.quinn@demo.school", until="could not be kept")
    never_done(said)
    assert NOT_KEPT in said

    # Full between the question and the Confirm: a partial write (room for 40
    # bytes of a line of hundreds), then a refused write (no room at all).
    free_space(bot)
    said = bot.send(f"/suspend {GRACE}", until="[2] Cancel")
    assert "Suspend Grace Mensah" in said
    for room in (40, 0):
        size = fill_disk(bot, room)
        said = bot.send("Suspend", until="please try again")
        never_done(said)
        assert NOT_SAVED in said
        assert journal.stat().st_size == size, "the torn line was not cut off"

    # The bot answers the next message while the disk is still full.
    said = bot.send("/me", until="Cora Ordinator")
    never_done(said)

    # Space returns: the same changes now succeed.
    free_space(bot)
    said = bot.send(f"/suspend {GRACE}", until="[2] Cancel")
    said = bot.send("Suspend", until="can no longer log in")
    assert "Grace Mensah is suspended" in said
    bot.send("/add Zoe Quinn zoe.quinn@demo.school", until="admin rights?")
    bot.send("No, a teacher", until="Which support sites")
    bot.send("Done", until="Ready: ")
    bot.send("Review and confirm", until="Add 1 account(s)?")
    said = bot.send("Add 1 account(s)", until="Zoe Quinn <zoe.quinn@demo.school>")
    assert "Added 1 account(s)" in said
    assert bot.finish() == 0, bot.stderr
    assert "Traceback" not in bot.stderr, bot.stderr
    assert "the disk is full" in bot.stderr  # and it was logged

    store = open_store(demo_dir)
    try:
        accounts = accounts_by_email(store)
        assert accounts[GRACE]["status"] == "suspended"
        assert audit_counts(store, "suspend")[GRACE] == 1
        assert audit_counts(store, "add")["zoe.quinn@demo.school"] == 1
    finally:
        store.close()


# The start of a child process that changes the store directly (argv: the
# data directory, Grace's email, the bytes its files may grow to): the journal
# line of a change fits in that room, a snapshot of the store does not, so
# every change is followed by a compaction that fails. ``disk_full(False)``
# lifts the limit: space has returned.
STORE_CHILD = """
import resource, sys
from hub import Actor, Hub
from hub.schema import INDEXES
from storage import StoreError, tinydb_store
from storage.tinydb_store import TinyDBStore

store = TinyDBStore(sys.argv[1], INDEXES, compact_after_bytes=1)
hub = Hub(store)
grace = hub.account_by_email(sys.argv[2]).account_id
actor = Actor(hub.account_by_email("coordinator@demo.school").account_id, "test")
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

def disk_full(full):
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]) if full else soft, hard))

disk_full(True)
"""


def run_store_child(body: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """:data:`STORE_CHILD` then ``body``, with room for about half the
    snapshot; it must end normally."""
    room = (data_dir / "hub.json").stat().st_size // 2
    done = subprocess.run(
        [PYTHON, "-c", STORE_CHILD + body, str(data_dir), GRACE, str(room)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_snapshot_that_cannot_be_written_never_undoes_a_saved_change(demo_dir: Path) -> None:
    """Compaction (a new snapshot, then an empty journal) runs after a change
    is in the journal. When the disk is too full for the snapshot, the change
    stands and is reported as made: it is on disk, and a restart has it."""
    done = run_store_child(
        """
try:
    hub.suspend(actor, grace)
    print("suspended", flush=True)
except StoreError as exc:
    print(f"refused: {exc}", flush=True)
store.close()
""",
        demo_dir,
    )
    assert done.stdout == "suspended\n", done.stdout + done.stderr
    assert "The snapshot was not saved: the disk is full." in done.stderr
    store = open_store(demo_dir)
    try:
        assert accounts_by_email(store)[GRACE]["status"] == "suspended"
        assert audit_counts(store, "suspend")[GRACE] == 1
    finally:
        store.close()


def test_a_snapshot_that_failed_is_not_tried_again_at_every_change(demo_dir: Path) -> None:
    """On a full disk each try at a snapshot writes up to the whole store
    again, while every change waits: after a failure the next try waits
    (the store's clock is moved by hand here), and once space has returned
    it succeeds."""
    done = run_store_child(
        """
import types
now = [0.0]
tinydb_store.time = types.SimpleNamespace(monotonic=lambda: now[0])
hub.suspend(actor, grace)  # the snapshot fails: tried once
hub.restore(actor, grace)
now[0] += tinydb_store.COMPACT_RETRY_SECONDS - 1
hub.suspend(actor, grace)  # still within the wait: not tried
print("three changes", flush=True)
disk_full(False)
now[0] += 2
hub.restore(actor, grace)  # tried again, and written
print(f"journal {(store.data_dir / 'hub.journal').stat().st_size}", flush=True)
store.close()
""",
        demo_dir,
    )
    assert done.stdout == "three changes\njournal 0\n", done.stdout + done.stderr
    assert done.stderr.count("The snapshot was not saved: the disk is full.") == 1
    store = open_store(demo_dir)
    try:
        assert accounts_by_email(store)[GRACE]["status"] == "active"
        assert audit_counts(store, "suspend")[GRACE] == 2
    finally:
        store.close()
