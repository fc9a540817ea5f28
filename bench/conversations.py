"""One conversation step through the engine, with no platform, at 100,000
accounts (issue 3): the bot's own work per message, from the neutral input
to the neutral replies, the conversation state stored (fsync'd) included.

- ``show EMAIL``   the account card, typed by the centre's coordinator with no
                   conversation open (the card has buttons, so its state is
                   written)                                  p99 <= 1 ms
- ``suspend``      the Confirm press of a suspend summary: the change, its
                   audit entry, one durable transaction     p99 <= 3 ms
- ``find``         ``find <part of a name>`` over the coordinator's centre
                   (50 accounts), results paged             p99 <= 2 ms

The store is filled directly (a few big transactions of documents shaped as
``hub/accounts.py`` makes them: 2,000 centres of 50 accounts, a coordinator,
two admins, some suspended, Progression Test data for one account in five,
and an audit entry per account), then opened again as the bot would open it.

Usage: ``python -m bench.conversations [--accounts 100000] [--samples 2000]``
Results: a table on stdout and ``bench/results/conversations.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handlers.conversations import all_conversations
from handlers.engine import Engine
from handlers.replies import Input, Person, Press, Reply, Text
from hub import Hub
from hub.schema import ACCOUNTS, AUDIT, CENTRES, DATA, INDEXES, migrate
from hub.validation import email_key
from storage.tinydb_store import TinyDBStore

RESULTS = Path(__file__).resolve().parent / "results"
PER_CENTRE = 50
BATCH = 20_000
TARGETS_MS: dict[str, float | None] = {
    "show EMAIL": 1.0,
    "suspend (Confirm)": 3.0,
    "find over the centre": 2.0,
    "fdatasync alone": None,  # context: the disk's share of every stored step
}
FIRST = ("Amira", "Ben", "Chloé", "Dev", "Eun-ji", "Farid", "Grace", "Hugo", "Ines", "Jon")
LAST = ("Haddad", "Okafor", "Martin", "Patel", "Park", "Nasser", "Mensah", "Silva", "Ng", "Lund")
SITES = ("primary", "lower-secondary", "test-maker", "resource-plus", "forums")


# ------------------------------------------------------------------ filling
def centre_of(i: int) -> str:
    return f"C{i // PER_CENTRE:05d}"


def account_id(i: int) -> str:
    return f"acc_{i:010d}"


def email_of(i: int) -> str:
    return f"{FIRST[i % 10].lower()}.{LAST[(i // 10) % 10].lower()}{i}@school{i // PER_CENTRE}.org"


def account_doc(i: int, created: str) -> dict[str, Any]:
    """As ``AccountChanges._create`` writes one (and a few set a password,
    were suspended, or are admins)."""
    k = i % PER_CENTRE
    role = "coordinator" if k == 0 else "admin" if k in (1, 2) else "teacher"
    suspended = k >= 45  # five per centre
    email = email_of(i)
    return {
        "centre_id": centre_of(i),
        "name": f"{FIRST[i % 10]} {LAST[(i // 10) % 10]} {i}",
        "email": email,
        "email_key": email_key(email),
        "role": role,
        "status": "suspended" if suspended else "active",
        "sites": ["hub", *SITES[: 1 + i % len(SITES)]],
        "invitation_pending": i % 3 == 0,
        "created_at": created,
        "suspended_at": created if suspended else None,
        "snoozed_until": None,
        "password_hash": None if i % 3 == 0 else "$argon2id$v=19$bench",
    }


def fill(data_dir: Path, accounts: int) -> None:
    created = datetime.now(UTC).isoformat()
    with TinyDBStore(data_dir, INDEXES) as store:
        migrate(store)
        with store.transaction() as tx:
            for c in range(accounts // PER_CENTRE):
                tx.put(
                    CENTRES,
                    f"C{c:05d}",
                    {"name": f"School {c}", "coordinator_id": account_id(c * PER_CENTRE)},
                )
        for start in range(0, accounts, BATCH):
            with store.transaction() as tx:
                for i in range(start, min(accounts, start + BATCH)):
                    doc = account_doc(i, created)
                    tx.put(ACCOUNTS, account_id(i), doc)
                    tx.put(
                        AUDIT,
                        f"20260101T000000{i:010d}-bench",
                        {
                            "time": created,
                            "centre_id": doc["centre_id"],
                            "actor": "operator",
                            "actor_id": None,
                            "via": "operator",
                            "action": "add",
                            "target": doc["email"],
                            "before": None,
                            "after": {k: doc[k] for k in ("name", "email", "role", "status")},
                        },
                    )
                    if i % 5 == 3:  # one account in five owns Progression Test data
                        for n, site in enumerate(("primary", "lower-secondary")[: 1 + i % 2]):
                            tx.put(
                                DATA,
                                f"ptd_{i:010d}_{n}",
                                {
                                    "centre_id": doc["centre_id"],
                                    "owner_id": account_id(i),
                                    "site": site,
                                    "title": f"Stage {4 + i % 5} Mathematics",
                                    "class_name": f"{4 + i % 5}A",
                                    "date": "2026-06-01",
                                    "results": 28,
                                },
                            )


# ---------------------------------------------------------------- measuring
def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Bot:
    """The engine on the filled store, and a coordinator's chat per centre."""

    def __init__(self, data_dir: Path) -> None:
        started = time.perf_counter()
        self.store = TinyDBStore(data_dir, INDEXES)
        migrate(self.store)
        self.hub = Hub(self.store)
        self.engine = Engine(self.hub, all_conversations())
        self.open_seconds = time.perf_counter() - started
        self.to_suspend: list[int] = []  # active teachers not suspended yet

    def coordinator(self, centre: int) -> Person:
        coordinator = account_id(centre * PER_CENTRE)
        return Person("bench", f"coordinator-{centre}", coordinator)

    def send(self, person: Person, event: Input) -> list[Reply]:
        return self.engine.handle(person, event)

    def timed(self, person: Person, event: Input) -> tuple[float, list[Reply]]:
        start = time.perf_counter_ns()
        replies = self.engine.handle(person, event)
        return (time.perf_counter_ns() - start) / 1e6, replies

    def close(self) -> None:
        self.store.close()


def _check(replies: list[Reply], words: str) -> None:
    text = "\n".join(r.text for r in replies)
    if words not in text:
        raise SystemExit(f"unexpected reply (wanted {words!r}):\n{text}")


def measure_show(bot: Bot, samples: int, rng: random.Random, centres: int) -> list[float]:
    times = []
    for _ in range(samples):
        centre = rng.randrange(centres)
        person = bot.coordinator(centre)
        i = centre * PER_CENTRE + rng.randrange(3, PER_CENTRE)
        bot.send(person, Text("cancel"))  # no conversation open: one clean step
        ms, replies = bot.timed(person, Text(f"show {email_of(i)}"))
        _check(replies, f"Email: {email_of(i)}")
        times.append(ms)
    return times


def measure_suspend(bot: Bot, samples: int, rng: random.Random, centres: int) -> list[float]:
    """Each sample suspends a different active teacher: the summary is
    prepared untimed, the Confirm press is timed."""
    times = []
    if not bot.to_suspend:
        bot.to_suspend = [c * PER_CENTRE + k for c in range(centres) for k in range(3, 45)]
        rng.shuffle(bot.to_suspend)
    for _ in range(samples):
        i = bot.to_suspend.pop()
        person = bot.coordinator(i // PER_CENTRE)
        summary = bot.send(person, Text(f"suspend {email_of(i)}"))
        confirm = next(b.token for r in summary for b in r.buttons if b.kind == "confirm")
        ms, replies = bot.timed(person, Press(confirm))
        _check(replies, "is suspended and can no longer log in")
        times.append(ms)
    return times


def measure_find(bot: Bot, samples: int, rng: random.Random, centres: int) -> list[float]:
    times = []
    for _ in range(samples):
        centre = rng.randrange(centres)
        person = bot.coordinator(centre)
        bot.send(person, Text("cancel"))
        word = rng.choice(FIRST).lower()
        ms, replies = bot.timed(person, Text(f"find {word}"))
        _check(replies, "Accounts matching")
        times.append(ms)
    return times


def measure_fsync(bot: Bot, samples: int, rng: random.Random, centres: int) -> list[float]:
    """For reading the others: one small line appended and fdatasync'd beside
    the store, the floor under any step that stores something."""
    path = bot.store.data_dir / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(samples):
            start = time.perf_counter_ns()
            os.write(fd, b"x" * 512 + b"\n")
            os.fdatasync(fd)
            times.append((time.perf_counter_ns() - start) / 1e6)
    finally:
        os.close(fd)
        path.unlink()
    return times


MEASUREMENTS: dict[str, Callable[[Bot, int, random.Random, int], list[float]]] = {
    "show EMAIL": measure_show,
    "suspend (Confirm)": measure_suspend,
    "find over the centre": measure_find,
    "fdatasync alone": measure_fsync,
}


def run(accounts: int, samples: int, data_dir: Path | None, profile: str | None) -> dict[str, Any]:
    load_before = [round(x, 2) for x in os.getloadavg()]
    own_dir = data_dir is None
    work = Path(tempfile.mkdtemp(prefix="hubbench-")) if own_dir else data_dir
    assert work is not None
    rows: list[dict[str, Any]] = []
    try:
        started = time.perf_counter()
        fill(work, accounts)
        fill_seconds = time.perf_counter() - started
        # The filled snapshot (~100 MB) is still being written back by the
        # kernel: let it land, or the first step measured pays for it.
        os.sync()
        bot = Bot(work)
        os.sync()
        print(
            f"{accounts:,} accounts in {accounts // PER_CENTRE:,} centres: filled in "
            f"{fill_seconds:.1f} s, opened in {bot.open_seconds:.1f} s ({work})",
            flush=True,
        )
        rng = random.Random(20260301)
        centres = accounts // PER_CENTRE
        try:
            for name, measure in MEASUREMENTS.items():
                measure(bot, min(50, samples), rng, centres)  # warm up
                gc.collect()
                if profile and profile in name:
                    import cProfile
                    import pstats

                    profiler = cProfile.Profile()
                    profiler.enable()
                    times = measure(bot, samples, rng, centres)
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
                else:
                    times = measure(bot, samples, rng, centres)
                target = TARGETS_MS[name]
                p99 = percentile(times, 0.99)
                rows.append(
                    {
                        "step": name,
                        "samples": len(times),
                        "median_ms": round(statistics.median(times), 4),
                        "p90_ms": round(percentile(times, 0.90), 4),
                        "p99_ms": round(p99, 4),
                        "max_ms": round(max(times), 4),
                        "target_p99_ms": target,
                        "ok": None if target is None else p99 <= target,
                    }
                )
        finally:
            bot.close()
    finally:
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "benchmark": "conversations",
        "accounts": accounts,
        "centres": accounts // PER_CENTRE,
        "per_centre": PER_CENTRE,
        "fill_seconds": round(fill_seconds, 2),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "rows": rows,
    }


def print_table(result: dict[str, Any]) -> None:
    header = f"{'step':<22} {'median ms':>10} {'p99 ms':>8} {'target':>8}  ok?"
    print(header)
    print("-" * len(header))
    for row in result["rows"]:
        target = row["target_p99_ms"]
        wanted = "" if target is None else f"<= {target:g}"
        ok = "" if row["ok"] is None else "yes" if row["ok"] else "NO"
        print(
            f"{row['step']:<22} {row['median_ms']:>10.3f} {row['p99_ms']:>8.3f} {wanted:>8}  {ok}"
        )
    print(f"load average before/after: {result['load_before']} / {result['load_after']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--data-dir", type=Path, help="fill here instead of a temporary dir")
    parser.add_argument("--profile", help="cProfile the step whose name contains this")
    parser.add_argument("--output", type=Path, default=RESULTS / "conversations.json")
    args = parser.parse_args(argv)
    if args.samples + 50 > args.accounts // PER_CENTRE * 42:
        parser.error("more suspend samples than active teachers to suspend")
    result = run(args.accounts, args.samples, args.data_dir, args.profile)
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0 if all(row["ok"] is not False for row in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
