"""Crash safety: a child process changes the hub and reports each change once
the call returned; we SIGKILL it at random moments (also while it opens,
replays or compacts the store) and check that the store always opens and
holds every reported change, and every transaction whole or not at all."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from hub.schema import ACCOUNTS, AUDIT, INDEXES, OUTBOX, TOKENS
from storage.tinydb_store import TinyDBStore

CHILD = Path(__file__).with_name("crash_child.py")
KILLS_PER_WORKER = 25
WORKERS = 2  # two stores side by side: 50 kills in the suite
# Small, so that compactions (snapshot rewrite + journal reset) happen often
# during a run and some kills land in the middle of one.
COMPACT_AFTER = 16 * 1024


def run_and_kill(data_dir: Path, rng: random.Random) -> list[str]:
    """Start the child, kill it at a random moment, return the lines it
    reported in full before dying."""
    process = subprocess.Popen(
        [sys.executable, str(CHILD), str(data_dir), str(COMPACT_AFTER)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        if rng.random() < 0.2:
            # Anywhere from start-up through opening (replay, compaction).
            time.sleep(rng.uniform(0.05, 0.4))
        else:
            while True:  # once it is making changes
                line = process.stdout.readline()
                if line in (b"ready\n", b""):
                    break
            time.sleep(rng.uniform(0.02, 0.15))
        process.send_signal(signal.SIGKILL)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, err.decode(errors="replace")[-2000:]
    return [line for line in out.decode().split("\n")[:-1]]  # a cut last line never counts


def check_store(data_dir: Path, added: dict[str, str], suspended: set[str]) -> int:
    """Open the store as a restarted bot would; every reported change is in
    it and every transaction is whole. Returns the number of accounts."""
    store = TinyDBStore(data_dir, INDEXES)
    try:
        accounts = {d["_key"]: d for d in store.scan(ACCOUNTS)}
        for key, email in added.items():
            assert key in accounts, f"reported account {email} lost"
            assert accounts[key]["email"] == email
        for key in suspended:
            assert accounts[key]["status"] == "suspended", f"reported suspension of {key} lost"
        # Whole transactions: an account exists exactly when its "add" audit
        # entry, its invitation token and its invitation email do.
        audit = list(store.scan(AUDIT))
        adds = Counter(a["target"] for a in audit if a["action"] == "add")
        suspends = Counter(a["target"] for a in audit if a["action"] == "suspend")
        invitations = Counter(e["to_email"] for e in store.scan(OUTBOX))
        tokens = Counter(t["account_id"] for t in store.scan(TOKENS))
        emails = {d["email"] for d in accounts.values()}
        assert set(adds) == emails and set(adds.values()) == {1}
        assert set(invitations) == emails and set(invitations.values()) == {1}
        assert set(tokens) == set(accounts) and set(tokens.values()) == {1}
        assert {d["email"] for d in accounts.values() if d["status"] == "suspended"} == set(
            suspends
        )
        assert len(store.lookup(ACCOUNTS, "centre_id", "CRASH1")) == len(accounts)
        return len(accounts)
    finally:
        store.close()


def crash_loop(data_dir: Path, seed: int, kills: int, results: list[object]) -> None:
    try:
        rng = random.Random(seed)
        added: dict[str, str] = {}
        suspended: set[str] = set()
        reported = 0
        for _ in range(kills):
            for line in run_and_kill(data_dir, rng):
                if not line.strip():
                    continue
                word, *rest = line.split()
                if word == "add":
                    added[rest[0]] = rest[1]
                    reported += 1
                elif word == "suspend":
                    suspended.add(rest[0])
                    reported += 1
            if data_dir.exists():
                check_store(data_dir, added, suspended)
        results.append((reported, len(added)))
    except BaseException as exc:
        results.append(exc)


def test_sigkill_at_random_moments_never_loses_a_reported_change(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1_000_000)))
    results: list[object] = []
    threads = [
        threading.Thread(
            target=crash_loop, args=(tmp_path / f"store{i}", seed + i, KILLS_PER_WORKER, results)
        )
        for i in range(WORKERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for result in results:
        if isinstance(result, BaseException):
            raise AssertionError(f"crash test failed (CRASH_SEED={seed})") from result
    assert len(results) == WORKERS
    # The kills did land while changes were being made.
    assert all(isinstance(r, tuple) and r[0] > KILLS_PER_WORKER for r in results), results
