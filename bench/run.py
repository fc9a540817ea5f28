"""`make bench`: the TinyDB store against SQLite (WAL, synchronous=FULL), side
by side in one run, at 1,000 / 10,000 / 100,000 accounts (50 per centre).

For each size both stores are filled with the same centres and accounts
(with ``--history`` also one audit entry and one delivered invitation per
account, as the hub leaves them), then every measurement runs on both:

- ``disk floor``    append one line + fdatasync / commit one tiny row: the
                    least any confirmed change costs on this disk
- ``open``          open the store ready for work (TinyDB: in a fresh child
                    process, snapshot read + journal replay + indexes)
- ``peak memory``   the child's peak RSS after opening, a few reads, one
                    change and one compaction (the biggest moment it has)
- ``add account``   a confirmed change: ``Hub.add_accounts`` with one account
                    (account, audit entry, token and invitation email in one
                    fsync'd transaction); SQLite does the same checks and rows
- ``suspend``       a confirmed change: ``Hub.suspend`` (account + audit)
- ``email lookup``  ``Hub.account_by_email`` (address normalised by the
                    email library, then the index); SQLite: the same
                    normalisation and an indexed SELECT
- ``store lookup``  the index alone: ``Store.lookup`` by the email key
- ``name search``   a partial name within one centre (``Hub.filter_accounts``);
                    SQLite: ``LIKE`` on name or email within the centre

Each measurement is one function taking a :class:`Bench` and returning rows,
listed in :data:`MEASUREMENTS`; add more (conversations, say) the same way.
Results: a table on stdout and ``bench/results/bench-<time>.json``.

Usage: ``python -m bench.run [--sizes 1000,10000] [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub import Actor, Hub, NewAccount
from hub.schema import ACCOUNTS, AUDIT, CENTRES, INDEXES, OUTBOX, migrate
from hub.validation import email_key, lookup_key
from storage.tinydb_store import TinyDBStore

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
SIZES = (1_000, 10_000, 100_000)
PER_CENTRE = 50
FILL_BATCH = 20_000  # documents per fill transaction
FIRST_NAMES = ("Amira", "Ben", "Chloé", "Dev", "Eun-ji", "Farid", "Grace", "Hugo", "Ines", "Jon")
LAST_NAMES = ("Haddad", "Okafor", "Martin", "Patel", "Park", "Nasser", "Mensah", "Silva", "Ng")
# Targets at 100,000 accounts (issue 2); None: no target, shown for context.
TARGETS: dict[str, dict[str, float]] = {
    "open": {"seconds": 3.0},
    "peak memory": {"mb": 400.0},
    "add account": {"p99_ms": 2.0, "ratio": 3.0},
    "suspend": {"p99_ms": 2.0, "ratio": 3.0},
    "email lookup": {"p99_ms": 0.1},
    "store lookup": {"p99_ms": 0.1},
}


# ------------------------------------------------------------------ rows
@dataclass
class Row:
    """One measurement at one size: TinyDB and SQLite samples, in ms (or MB)."""

    name: str
    size: int
    unit: str  # "ms" or "MB" or "s"
    tinydb: list[float]
    sqlite: list[float]
    note: str = ""
    # p99 of a bare append + fdatasync in the same run: no confirmed change
    # can be quicker than the disk under it.
    disk_floor_p99: float = field(default=0.0, repr=False)

    @staticmethod
    def _pct(samples: list[float], q: float) -> float:
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def stats(self, samples: list[float]) -> dict[str, float]:
        return {
            "median": statistics.median(samples) if samples else 0.0,
            "p99": self._pct(samples, 0.99),
            "n": len(samples),
        }

    def summary(self) -> dict[str, Any]:
        t, s = self.stats(self.tinydb), self.stats(self.sqlite)
        ratio = t["p99"] / s["p99"] if s["p99"] else None
        return {
            "name": self.name,
            "size": self.size,
            "unit": self.unit,
            "tinydb": t,
            "sqlite": s,
            "ratio_p99": ratio,
            "ratio_median": t["median"] / s["median"] if s["median"] else None,
            "note": self.note,
            "verdict": self.judge(t, ratio),
        }

    def judge(self, t: dict[str, float], ratio: float | None) -> str:
        target = TARGETS.get(self.name)
        if not target or self.size < 100_000:
            return ""
        misses = []
        if "p99_ms" in target and t["p99"] > target["p99_ms"]:
            floor = self.disk_floor_p99
            disk_bound = "ratio" in target and floor > target["p99_ms"]  # a confirmed change
            bound = f" (disk alone: p99 {floor:.1f} ms)" if disk_bound else ""
            misses.append(f"p99 > {target['p99_ms']} ms{bound}")
        if "ratio" in target and ratio is not None and ratio > target["ratio"]:
            misses.append(f"> {target['ratio']:g}x SQLite")
        if "seconds" in target and t["median"] > target["seconds"]:
            misses.append(f"> {target['seconds']} s")
        if "mb" in target and t["median"] > target["mb"]:
            misses.append(f"> {target['mb']:g} MB")
        return "MISSED: " + ", ".join(misses) if misses else "ok"


# ------------------------------------------------------------- the data
def centre_id(i: int) -> str:
    return f"C{i:05d}"


def person(i: int) -> tuple[str, str, str]:
    """(centre, name, email) of the i-th seeded account."""
    first, last = FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[(i // 7) % len(LAST_NAMES)]
    return centre_id(i // PER_CENTRE), f"{first} {last} {i}", f"p{i}@c{i // PER_CENTRE}.school"


def seeded_suspended(i: int) -> bool:
    """About one account in 17 is suspended; never a centre's coordinator."""
    return i % 17 == 5 and i % PER_CENTRE != 0


def account_doc(i: int, created: str) -> dict[str, Any]:
    """The document ``Hub`` writes for an account (see hub/accounts.py)."""
    centre, name, email = person(i)
    role = "coordinator" if i % PER_CENTRE == 0 else ("admin" if i % 10 == 1 else "teacher")
    return {
        "centre_id": centre,
        "name": name,
        "email": email,
        "email_key": email_key(email),
        "role": role,
        "status": "suspended" if seeded_suspended(i) else "active",
        "sites": ["hub", "primary"] if i % 2 else ["hub", "lower-secondary", "test-maker"],
        "invitation_pending": i % 3 == 0,
        "created_at": created,
        "suspended_at": created if seeded_suspended(i) else None,
        "snoozed_until": None,
        "password_hash": None if i % 3 == 0 else "$argon2id$v=19$m=65536,t=3,p=4$" + "x" * 60,
    }


def audit_doc(i: int, doc: dict[str, Any], created: str) -> dict[str, Any]:
    public = {k: doc[k] for k in ("name", "email", "role", "status", "sites")}
    return {
        "time": created,
        "centre_id": doc["centre_id"],
        "actor": "operator",
        "actor_id": None,
        "via": "bench",
        "action": "add",
        "target": doc["email"],
        "before": None,
        "after": public,
    }


def sent_invitation(i: int, doc: dict[str, Any], created: str) -> dict[str, Any]:
    """An invitation as the outbox keeps it after delivery (link redacted)."""
    link = "https://hub.example.org/set-password?token=(removed after delivery)"
    return {
        "to_email": doc["email"],
        "to_name": doc["name"],
        "kind": "invitation",
        "subject": "Your School Support Hub account",
        "text": f"Hello {doc['name']},\n\nAn account has been created for you on the School "
        f"Support Hub for School {i // PER_CENTRE}.\nSet your password here (the link works "
        f"once, for 7 days):\n\n{link}\n\nOne login gives you every support site your "
        "coordinator chose for you.\n",
        "html": "<!doctype html><html><body>" + "x" * 900 + link + "</body></html>",
        "state": "sent",
        "attempts": 1,
        "created_at": created,
        "next_attempt_at": created,
        "sent_at": created,
        "last_error": None,
    }


def fill_tinydb(data_dir: Path, size: int, history: bool) -> None:
    created = datetime.now(UTC).isoformat()
    with TinyDBStore(data_dir, INDEXES) as store:
        migrate(store)
        with store.transaction() as tx:
            for c in range(size // PER_CENTRE):
                coordinator = f"acc_{c * PER_CENTRE:010d}"
                tx.put(
                    CENTRES, centre_id(c), {"name": f"School {c}", "coordinator_id": coordinator}
                )
        for start in range(0, size, FILL_BATCH):
            with store.transaction() as tx:
                for i in range(start, min(size, start + FILL_BATCH)):
                    doc = account_doc(i, created)
                    tx.put(ACCOUNTS, f"acc_{i:010d}", doc)
                    if history:
                        key = f"20260101T000000{i:010d}-bench"
                        tx.put(AUDIT, key, audit_doc(i, doc, created))
                        tx.put(OUTBOX, key, sent_invitation(i, doc, created))


SQLITE_SCHEMA = """
CREATE TABLE centres (id TEXT PRIMARY KEY, name TEXT NOT NULL, coordinator_id TEXT);
CREATE TABLE accounts (
  id TEXT PRIMARY KEY, centre_id TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
  email_key TEXT NOT NULL UNIQUE, role TEXT NOT NULL, status TEXT NOT NULL, sites TEXT NOT NULL,
  invitation_pending INTEGER NOT NULL, created_at TEXT, suspended_at TEXT, snoozed_until TEXT,
  password_hash TEXT);
CREATE INDEX accounts_centre ON accounts (centre_id);
CREATE TABLE audit (id TEXT PRIMARY KEY, centre_id TEXT, doc TEXT NOT NULL);
CREATE INDEX audit_centre ON audit (centre_id);
CREATE TABLE tokens (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX tokens_account ON tokens (account_id);
CREATE TABLE outbox (id TEXT PRIMARY KEY, state TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX outbox_state ON outbox (state);
"""
ACCOUNT_COLUMNS = (
    "id, centre_id, name, email, email_key, role, status, sites, invitation_pending, "
    "created_at, suspended_at, snoozed_until, password_hash"
)


def sqlite_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def sqlite_row(account_id: str, doc: dict[str, Any]) -> tuple[Any, ...]:
    return (
        account_id,
        doc["centre_id"],
        doc["name"],
        doc["email"],
        doc["email_key"],
        doc["role"],
        doc["status"],
        ";".join(doc["sites"]),
        int(doc["invitation_pending"]),
        doc["created_at"],
        doc["suspended_at"],
        doc["snoozed_until"],
        doc["password_hash"],
    )


def fill_sqlite(path: Path, size: int, history: bool) -> None:
    created = datetime.now(UTC).isoformat()
    conn = sqlite_connect(path)
    conn.executescript(SQLITE_SCHEMA)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO centres VALUES (?, ?, ?)",
        [
            (centre_id(c), f"School {c}", f"acc_{c * PER_CENTRE:010d}")
            for c in range(size // PER_CENTRE)
        ],
    )
    for start in range(0, size, FILL_BATCH):
        rows, audits, emails = [], [], []
        for i in range(start, min(size, start + FILL_BATCH)):
            doc = account_doc(i, created)
            rows.append(sqlite_row(f"acc_{i:010d}", doc))
            if history:
                key = f"20260101T000000{i:010d}-bench"
                audits.append((key, doc["centre_id"], json.dumps(audit_doc(i, doc, created))))
                emails.append((key, "sent", json.dumps(sent_invitation(i, doc, created))))
        conn.executemany(
            f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ({','.join('?' * 13)})", rows
        )
        conn.executemany("INSERT INTO audit VALUES (?, ?, ?)", audits)
        conn.executemany("INSERT INTO outbox VALUES (?, ?, ?)", emails)
    conn.execute("COMMIT")
    conn.close()


# -------------------------------------------------------- the bench state
@dataclass
class Bench:
    """What every measurement gets: the size, both stores, a hub, a seed."""

    size: int
    work: Path
    repeat: int
    rng: random.Random
    store: TinyDBStore | None = None
    hub: Hub | None = None
    conn: sqlite3.Connection | None = None
    added: int = 0

    @property
    def tinydb_dir(self) -> Path:
        return self.work / "tinydb"

    @property
    def sqlite_path(self) -> Path:
        return self.work / "sqlite.db"

    def open(self) -> None:
        self.store = TinyDBStore(self.tinydb_dir, INDEXES)
        migrate(self.store)
        self.hub = Hub(self.store, public_url="https://hub.example.org")
        self.conn = sqlite_connect(self.sqlite_path)

    def close(self) -> float:
        """Close both; returns how long the TinyDB close (compaction) took."""
        assert self.store is not None and self.conn is not None
        started = time.perf_counter()
        self.store.close()
        took = time.perf_counter() - started
        self.conn.close()
        return took

    def random_account(self) -> int:
        return self.rng.randrange(self.size)

    def centres(self) -> int:
        return self.size // PER_CENTRE


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


# ------------------------------------------------------------ measurements
PROBE = """
import json, sys, time
started = time.perf_counter()
{opener}
opened = time.perf_counter() - started
with open("/proc/self/status") as status:
    rss_open = next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
{work}
# Peak RSS of this process. Not getrusage(): Linux carries ru_maxrss over
# exec from the parent that forked us, so the bench's own size would show.
with open("/proc/self/status") as status:
    rss = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
print(json.dumps({{"open": opened, "rss_open": rss_open, "rss": rss}}))
"""
TINYDB_OPEN = """
from hub import Hub
from hub.schema import INDEXES, migrate
from storage.tinydb_store import TinyDBStore
store = TinyDBStore(sys.argv[1], INDEXES)
migrate(store)
hub = Hub(store)
"""
TINYDB_WORK = """
for i in range(0, int(sys.argv[2]), 997):
    hub.account_by_email(f"p{i}@c{i // 50}.school")
hub.filter_accounts("C00000", "a")
store.set_meta("bench_probe", time.time())
store.compact()  # the largest moment: the whole snapshot as one string
store.close()
"""
SQLITE_OPEN = """
import sqlite3
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA synchronous=FULL")
conn.execute("SELECT count(*) FROM accounts").fetchone()
"""
SQLITE_WORK = """
for i in range(0, int(sys.argv[2]), 997):
    key = f"p{i}@c{i // 50}.school"
    conn.execute("SELECT * FROM accounts WHERE email_key = ?", (key,)).fetchall()
conn.execute(
    "SELECT * FROM accounts WHERE centre_id = ? AND name LIKE ?", ("C00000", "%a%")
).fetchall()
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.close()
"""


def _probe(kind: str, bench: Bench) -> dict[str, float]:
    if kind == "tinydb":
        script, target = PROBE.format(opener=TINYDB_OPEN, work=TINYDB_WORK), bench.tinydb_dir
    else:
        script, target = PROBE.format(opener=SQLITE_OPEN, work=SQLITE_WORK), bench.sqlite_path
    done = subprocess.run(
        [sys.executable, "-c", script, str(target), str(bench.size)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT.parent,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_open_and_memory(bench: Bench) -> list[Row]:
    """Opening (seconds) and peak RSS (MB), each in a fresh child process."""
    runs = {kind: [_probe(kind, bench) for _ in range(3)] for kind in ("tinydb", "sqlite")}
    return [
        Row(
            "open",
            bench.size,
            "s",
            [r["open"] for r in runs["tinydb"]],
            [r["open"] for r in runs["sqlite"]],
            "fresh process: read snapshot, replay journal, build indexes",
        ),
        Row(
            "memory when open",
            bench.size,
            "MB",
            [r["rss_open"] for r in runs["tinydb"]],
            [r["rss_open"] for r in runs["sqlite"]],
            "RSS of that process once the store is open",
        ),
        Row(
            "peak memory",
            bench.size,
            "MB",
            [r["rss"] for r in runs["tinydb"]],
            [r["rss"] for r in runs["sqlite"]],
            "max RSS of that process incl. Python and one compaction",
        ),
    ]


def measure_add_account(bench: Bench) -> list[Row]:
    """One confirmed change: add one account (with its invitation)."""
    assert bench.hub is not None and bench.conn is not None
    hub, conn = bench.hub, bench.conn
    tiny, lite = [], []
    for _ in range(bench.repeat):
        bench.added += 1
        c = bench.rng.randrange(bench.centres())
        coordinator = Actor(f"acc_{c * PER_CENTRE:010d}", "bench")
        email = f"new{bench.added}@c{c}.school"
        draft = NewAccount(f"New Person {bench.added}", email, False, ("primary",))
        tiny.append(timed(lambda d=draft, a=coordinator: hub.add_accounts(a, [d])))

        def sqlite_add(c: int = c, email: str = email) -> None:
            key = lookup_key(email)  # the same normalisation the hub does
            now = datetime.now(UTC).isoformat()
            account_id = f"new_{bench.added:010d}"
            conn.execute("BEGIN IMMEDIATE")
            actor = conn.execute(
                "SELECT role, status, centre_id FROM accounts WHERE id = ?",
                (f"acc_{c * PER_CENTRE:010d}",),
            ).fetchone()
            assert actor and actor[1] == "active"
            taken = conn.execute("SELECT 1 FROM accounts WHERE email_key = ?", (key,)).fetchone()
            assert taken is None
            centre = conn.execute(
                "SELECT name FROM centres WHERE id = ?", (centre_id(c),)
            ).fetchone()
            assert centre
            doc = {
                **account_doc(0, now),
                "centre_id": centre_id(c),
                "name": f"New Person {bench.added}",
                "email": email,
                "email_key": key,
                "invitation_pending": True,
            }
            conn.execute(
                f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ({','.join('?' * 13)})",
                sqlite_row(account_id, doc),
            )
            conn.execute(
                "INSERT INTO audit VALUES (?, ?, ?)",
                (f"{now}-{account_id}", doc["centre_id"], json.dumps(audit_doc(0, doc, now))),
            )
            conn.execute(
                "INSERT INTO tokens VALUES (?, ?, ?)",
                (os.urandom(32).hex(), account_id, json.dumps({"kind": "invitation", "at": now})),
            )
            conn.execute(
                "INSERT INTO outbox VALUES (?, ?, ?)",
                (f"{now}-{account_id}", "pending", json.dumps({"to": email, "text": "x" * 1500})),
            )
            conn.execute("COMMIT")

        lite.append(timed(sqlite_add))
    return [Row("add account", bench.size, "ms", tiny, lite, "Hub.add_accounts, 1 account")]


def measure_suspend(bench: Bench) -> list[Row]:
    """One confirmed change: suspend one active teacher (and restore it
    untimed, so the next round finds it active again)."""
    assert bench.hub is not None and bench.conn is not None
    hub, conn = bench.hub, bench.conn
    tiny, lite = [], []
    for _ in range(bench.repeat):
        i = bench.random_account()
        while i % PER_CENTRE == 0 or seeded_suspended(i):  # an active teacher or admin
            i = bench.random_account()
        coordinator = Actor(f"acc_{(i // PER_CENTRE) * PER_CENTRE:010d}", "bench")
        account_id = f"acc_{i:010d}"
        tiny.append(timed(lambda a=coordinator, t=account_id: hub.suspend(a, t)))
        hub.restore(coordinator, account_id)

        def sqlite_suspend(account_id: str = account_id) -> None:
            now = datetime.now(UTC).isoformat()
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?", (account_id,)
            ).fetchone()
            assert row and row[6] == "active"
            conn.execute(
                "UPDATE accounts SET status = 'suspended', suspended_at = ? WHERE id = ?",
                (now, account_id),
            )
            conn.execute(
                "INSERT INTO audit VALUES (?, ?, ?)",
                (
                    f"{now}-{account_id}-{os.urandom(4).hex()}",
                    row[1],
                    json.dumps({"before": row[6], "after": "suspended", "target": row[3]}),
                ),
            )
            conn.execute("COMMIT")

        lite.append(timed(sqlite_suspend))
        conn.execute("UPDATE accounts SET status = 'active' WHERE id = ?", (account_id,))
    return [Row("suspend", bench.size, "ms", tiny, lite, "Hub.suspend")]


def measure_email_lookup(bench: Bench) -> list[Row]:
    """Find an account by a typed address, anywhere in the hub."""
    assert bench.hub is not None and bench.conn is not None and bench.store is not None
    hub, conn, store = bench.hub, bench.conn, bench.store
    emails = [person(bench.random_account())[2].upper() for _ in range(bench.repeat * 10)]
    keys = [email.lower() for email in emails]
    tiny = [timed(lambda e=e: hub.account_by_email(e)) for e in emails]

    def sqlite_by_email(typed: str) -> Any:
        # What the hub does (hub.core.accounts_with_email): an ASCII address
        # as typed first, else the email library's normalisation.
        query = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email_key = ?"
        text = typed.strip()
        if text.isascii() and (row := conn.execute(query, (text.lower(),)).fetchone()):
            return row
        key = lookup_key(typed)
        return conn.execute(query, (key,)).fetchone() if key else None

    lite = [timed(lambda e=e: sqlite_by_email(e)) for e in emails]
    raw_tiny = [timed(lambda k=k: store.lookup(ACCOUNTS, "email_key", k)) for k in keys]
    raw_lite = [
        timed(
            lambda k=k: conn.execute(
                f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email_key = ?", (k,)
            ).fetchone()
        )
        for k in keys
    ]
    return [
        Row("email lookup", bench.size, "ms", tiny, lite, "Hub.account_by_email (normalises)"),
        Row("store lookup", bench.size, "ms", raw_tiny, raw_lite, "index only, key given"),
    ]


def measure_name_search(bench: Bench) -> list[Row]:
    """A partial name within one centre (the find conversation's work)."""
    assert bench.hub is not None and bench.conn is not None
    hub, conn = bench.hub, bench.conn
    words = ["ha", "Martin", "1", "jon", "zz"]
    tiny, lite = [], []
    for n in range(bench.repeat * 2):
        c, word = centre_id(bench.rng.randrange(bench.centres())), words[n % len(words)]
        tiny.append(timed(lambda c=c, w=word: hub.filter_accounts(c, w)))
        lite.append(
            timed(
                lambda c=c, w=word: conn.execute(
                    f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE centre_id = ? "
                    "AND (name LIKE ? OR email LIKE ?) ORDER BY name",
                    (c, f"%{w}%", f"%{w}%"),
                ).fetchall()
            )
        )
    return [Row("name search", bench.size, "ms", tiny, lite, "one centre, ~50 accounts")]


def measure_fsync_floor(bench: Bench) -> list[Row]:
    """What the disk itself costs: append one 1 KB line and fdatasync it, in
    the store's directory; SQLite: commit one tiny row. Confirmed changes
    cannot be quicker than this; their p99 follows the disk's."""
    assert bench.conn is not None
    line = b"x" * 1023 + b"\n"
    path = bench.work / "floor.journal"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:

        def append() -> None:
            os.write(fd, line)
            os.fdatasync(fd)

        tiny = [timed(append) for _ in range(bench.repeat)]
    finally:
        os.close(fd)
    conn = bench.conn
    conn.execute("CREATE TABLE IF NOT EXISTS floor (x TEXT)")
    lite = [
        timed(lambda: conn.execute("INSERT INTO floor VALUES (?)", ("x" * 1000,)))
        for _ in range(bench.repeat)
    ]
    return [Row("disk floor", bench.size, "ms", tiny, lite, "1 line + fdatasync / 1 row")]


# Run in this order; "open" first, on the stores as filled.
MEASUREMENTS: list[Callable[[Bench], list[Row]]] = [
    measure_open_and_memory,
    measure_fsync_floor,
    measure_add_account,
    measure_suspend,
    measure_email_lookup,
    measure_name_search,
]


# ------------------------------------------------------------------ main
def run_size(size: int, repeat: int, seed: int, history: bool) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix=f"hub-bench-{size}-"))
    try:
        bench = Bench(size, work, repeat, random.Random(seed))
        started = time.perf_counter()
        fill_tinydb(bench.tinydb_dir, size, history)
        tiny_fill = time.perf_counter() - started
        started = time.perf_counter()
        fill_sqlite(bench.sqlite_path, size, history)
        lite_fill = time.perf_counter() - started
        snapshot_mb = (bench.tinydb_dir / "hub.json").stat().st_size / 1e6
        print(
            f"\n{size:,} accounts: filled TinyDB in {tiny_fill:.1f} s ({snapshot_mb:.0f} MB "
            f"snapshot), SQLite in {lite_fill:.1f} s",
            flush=True,
        )
        rows: list[Row] = []
        for measure in MEASUREMENTS:
            if measure is not measure_open_and_memory and bench.store is None:
                bench.open()
            rows.extend(measure(bench))
            print(f"  {measure.__name__} done", flush=True)
        floor = next((r for r in rows if r.name == "disk floor"), None)
        for row in rows:
            row.disk_floor_p99 = floor.stats(floor.tinydb)["p99"] if floor else 0.0
        compaction = bench.close() if bench.store is not None else 0.0
        rows.append(
            Row("close (compaction)", size, "s", [compaction], [], "rewrite snapshot; rare")
        )
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return f"{value:.2f}" if unit == "s" else f"{value:.0f}"


def table(rows: list[Row]) -> str:
    header = (
        f"{'size':>8}  {'measure':<19}{'unit':<5}{'tinydb med':>11}{'p99':>9}"
        f"{'sqlite med':>12}{'p99':>9}{'x p99':>8}  verdict"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        s = row.summary()
        t, q = s["tinydb"], s["sqlite"]
        ratio = f"{s['ratio_p99']:.1f}" if s["ratio_p99"] is not None else "-"
        lite_med = fmt(q["median"], row.unit) if q["n"] else "-"
        lite_p99 = fmt(q["p99"], row.unit) if q["n"] else "-"
        lines.append(
            f"{row.size:>8,}  {row.name:<19}{row.unit:<5}{fmt(t['median'], row.unit):>11}"
            f"{fmt(t['p99'], row.unit):>9}{lite_med:>12}{lite_p99:>9}{ratio:>8}  {s['verdict']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--repeat", type=int, default=300, help="changes timed per measurement")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--history",
        action="store_true",
        help="also one audit entry and one delivered invitation per account, as the hub "
        "leaves them after adding the accounts",
    )
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    rows: list[Row] = []
    for size in sizes:
        rows.extend(run_size(size, args.repeat, args.seed, args.history))
    print()
    print(table(rows))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"bench-{stamp}{'-history' if args.history else ''}.json"
    out.write_text(
        json.dumps(
            {
                "when": stamp,
                "machine": {
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                },
                "repeat": args.repeat,
                "history": args.history,
                "rows": [r.summary() for r in rows],
                "samples": [asdict(r) for r in rows],
            },
            indent=1,
        )
    )
    print(f"\nWritten {out.relative_to(ROOT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
