"""The TinyDB store: transactions, indexes, the journal, snapshots, damage and
the process lock, on real files in ``tmp_path``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from tinydb import TinyDB

from hub.schema import SCHEMA_VERSION, SchemaTooNew, migrate
from storage import Index, StoreDamaged, StoreLocked, StoreWriteError
from storage.tinydb_store import TinyDBStore

INDEXES = (Index("people", "email", unique=True), Index("people", "team"))
PYTHON = sys.executable


def open_people(path: Path, **kwargs) -> TinyDBStore:  # type: ignore[no-untyped-def]
    return TinyDBStore(path, INDEXES, **kwargs)


def add(store: TinyDBStore, key: str, email: str, team: str = "a", **extra) -> None:  # type: ignore[no-untyped-def]
    with store.transaction() as tx:
        tx.put("people", key, {"email": email, "team": team, **extra})


def crash_image(data_dir: Path, target: Path) -> Path:
    """The files as a crash would leave them right now (the store still open,
    nothing flushed by a close): copy them aside and open the copy."""
    target.mkdir()
    for name in ("hub.json", "hub.journal"):
        if (data_dir / name).exists():
            shutil.copy2(data_dir / name, target / name)
    return target


# ------------------------------------------------------------------ basics
def test_documents_come_back_after_reopen(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org", note="é ✓ 漢字")
        add(store, "p2", "bob@x.org", team="b")
        with store.transaction() as tx:
            tx.delete("people", "p2")
    with open_people(tmp_path) as store:
        assert store.get("people", "p1") == {
            "_key": "p1",
            "email": "ann@x.org",
            "team": "a",
            "note": "é ✓ 漢字",
        }
        assert store.get("people", "p2") is None
        assert store.count("people") == 1


def test_a_returned_change_is_on_disk_before_close(tmp_path: Path) -> None:
    store = open_people(tmp_path / "live")
    try:
        add(store, "p1", "ann@x.org")
        image = crash_image(tmp_path / "live", tmp_path / "image")
    finally:
        store.close()
    with open_people(image) as copy:
        assert copy.get("people", "p1")["email"] == "ann@x.org"  # type: ignore[index]


def test_get_returns_a_copy_the_caller_may_change(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org", tags=["x"])
        doc = store.get("people", "p1")
        doc["tags"].append("changed")  # type: ignore[index]
        doc["team"] = "z"  # type: ignore[index]
        assert store.get("people", "p1")["tags"] == ["x"]  # type: ignore[index]
        assert store.lookup("people", "team", "z") == []


def test_a_transaction_that_raises_changes_nothing(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
        journal_size = (tmp_path / "hub.journal").stat().st_size
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.put("people", "p2", {"email": "bob@x.org", "team": "a"})
            tx.delete("people", "p1")
            raise RuntimeError("changed my mind")
        assert store.get("people", "p2") is None
        assert store.get("people", "p1") is not None
        assert store.lookup("people", "team", "a") == [store.get("people", "p1")]
        assert (tmp_path / "hub.journal").stat().st_size == journal_size


def test_a_transaction_sees_its_own_writes_and_others_see_them_only_after(
    tmp_path: Path,
) -> None:
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
        with store.transaction() as tx:
            tx.put("people", "p2", {"email": "bob@x.org", "team": "a"})
            tx.put("people", "p1", {"email": "ann@x.org", "team": "b"})
            assert tx.get("people", "p2")["email"] == "bob@x.org"  # type: ignore[index]
            assert [d["_key"] for d in tx.lookup("people", "team", "a")] == ["p2"]
            assert [d["_key"] for d in tx.lookup("people", "team", "b")] == ["p1"]
            # Not yet visible outside the transaction.
            assert store.get("people", "p2") is None
            assert [d["_key"] for d in store.lookup("people", "team", "a")] == ["p1"]
            tx.delete("people", "p2")
            assert tx.get("people", "p2") is None
            assert tx.lookup("people", "team", "a") == []
        assert store.get("people", "p2") is None
        assert [d["_key"] for d in store.lookup("people", "team", "b")] == ["p1"]


def test_empty_transactions_write_nothing(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
        size = (tmp_path / "hub.journal").stat().st_size
        for _ in range(3):
            with store.transaction() as tx:
                tx.get("people", "p1")
        assert (tmp_path / "hub.journal").stat().st_size == size


def test_lookup_follows_changes_of_the_indexed_field(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        for i in range(5):
            add(store, f"p{i}", f"u{i}@x.org", team="a" if i % 2 else "b")
        assert [d["_key"] for d in store.lookup("people", "team", "a")] == ["p1", "p3"]
        add(store, "p1", "u1@x.org", team="b")
        with store.transaction() as tx:
            tx.delete("people", "p3")
        assert store.lookup("people", "team", "a") == []
        assert [d["_key"] for d in store.lookup("people", "team", "b")] == ["p0", "p1", "p2", "p4"]
        assert store.lookup("people", "email", "u3@x.org") == []
    with open_people(tmp_path) as store:  # indexes rebuilt from the files
        assert [d["_key"] for d in store.lookup("people", "team", "b")] == ["p0", "p1", "p2", "p4"]


def test_scan_and_count(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        for i in range(6):
            add(store, f"p{i}", f"u{i}@x.org", n=i)
        assert sorted(d["n"] for d in store.scan("people")) == list(range(6))
        assert sorted(d["n"] for d in store.scan("people", lambda d: d["n"] > 3)) == [4, 5]
        assert list(store.scan("nothing")) == []
        assert store.count("people") == 6 and store.count("nothing") == 0
        # The predicate sees later changes: TinyDB's query cache is not used.
        add(store, "p9", "u9@x.org", n=9)
        assert sorted(d["n"] for d in store.scan("people", lambda d: d["n"] > 3)) == [4, 5, 9]


@pytest.mark.parametrize(
    "write",
    [
        lambda t, db: t.insert({"email": "sneaky@x.org"}),
        lambda t, db: t.update({"team": "sneaky"}),
        lambda t, db: t.upsert({"email": "sneaky@x.org"}, lambda d: True),
        lambda t, db: t.remove(lambda d: True),
        lambda t, db: t.truncate(),
        lambda t, db: db.drop_table("people"),
        lambda t, db: db.drop_tables(),
    ],
    ids=["insert", "update", "upsert", "remove", "truncate", "drop_table", "drop_tables"],
)
def test_tinydb_table_api_cannot_bypass_the_journal(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
        before = list(store.scan("people"))
        db = store._db
        with pytest.raises(RuntimeError, match="transaction"):
            write(db.table("people"), db)
        assert list(store.scan("people")) == before
        assert store.lookup("people", "email", "ann@x.org") == before


# ------------------------------------------------------------------ unique
def test_unique_index_refuses_a_second_holder_and_applies_nothing(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
        with pytest.raises(StoreWriteError, match="unique"), store.transaction() as tx:
            tx.put("people", "p3", {"email": "carl@x.org", "team": "a"})
            tx.put("people", "p2", {"email": "ann@x.org", "team": "a"})
        assert store.get("people", "p3") is None and store.get("people", "p2") is None
        with pytest.raises(StoreWriteError), store.transaction() as tx:
            tx.put("people", "p4", {"email": "dup@x.org", "team": "a"})
            tx.put("people", "p5", {"email": "dup@x.org", "team": "a"})
        assert store.count("people") == 1
    with open_people(tmp_path) as store:
        assert store.count("people") == 1


def test_unique_values_can_be_swapped_or_freed_in_one_transaction(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
        add(store, "p2", "bob@x.org")
        with store.transaction() as tx:
            tx.put("people", "p1", {"email": "bob@x.org", "team": "a"})
            tx.put("people", "p2", {"email": "ann@x.org", "team": "a"})
        assert store.lookup("people", "email", "bob@x.org")[0]["_key"] == "p1"
        with store.transaction() as tx:
            tx.delete("people", "p1")
            tx.put("people", "p3", {"email": "bob@x.org", "team": "a"})
        assert store.lookup("people", "email", "bob@x.org")[0]["_key"] == "p3"
        add(store, "p3", "bob@x.org", team="c")  # rewriting its own value is fine


# -------------------------------------------------------- meta and schema
def test_meta_and_schema_version(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        assert store.meta("schema_version") is None
        migrate(store)
        assert store.meta("schema_version") == SCHEMA_VERSION
        store.set_meta("note", {"a": [1]})
    with open_people(tmp_path) as store:
        assert store.meta("schema_version") == SCHEMA_VERSION
        assert store.meta("note") == {"a": [1]}
        assert store.meta("missing", 7) == 7
        store.set_meta("schema_version", SCHEMA_VERSION + 1)
        with pytest.raises(SchemaTooNew, match="newer"):
            migrate(store)


# ------------------------------------------------- journal and compaction
def test_compaction_writes_a_snapshot_tinydb_itself_can_read(tmp_path: Path) -> None:
    with open_people(tmp_path, compact_after_bytes=2000) as store:
        for i in range(60):
            add(store, f"p{i:02}", f"u{i}@x.org", n=i)
        assert (tmp_path / "hub.journal").stat().st_size <= 2000 + 200
        assert (tmp_path / "hub.json.bak").exists()
        image = crash_image(tmp_path, tmp_path / "image")
    with open_people(image) as copy:  # snapshot plus the journal since
        assert copy.count("people") == 60
    with TinyDB(tmp_path / "hub.json", access_mode="r") as plain:
        assert "people" in plain.tables()
        people = plain.storage.read()["people"]
        assert sorted(d["n"] for d in people.values()) == list(range(60))
    assert (tmp_path / "hub.journal").stat().st_size == 0  # closed: all in the snapshot


def test_replay_skips_records_already_in_the_snapshot(tmp_path: Path) -> None:
    """A crash between writing the snapshot and emptying the journal."""
    store = open_people(tmp_path / "live")
    try:
        add(store, "p1", "ann@x.org", n=1)
        add(store, "p1", "ann@x.org", n=2)
        old_journal = (tmp_path / "live" / "hub.journal").read_bytes()
        store.compact()
        add(store, "p2", "bob@x.org", n=3)
        image = crash_image(tmp_path / "live", tmp_path / "image")
    finally:
        store.close()
    journal = image / "hub.journal"
    journal.write_bytes(old_journal + journal.read_bytes())
    with open_people(image) as copy:
        assert copy.get("people", "p1")["n"] == 2  # type: ignore[index]
        assert copy.get("people", "p2")["n"] == 3  # type: ignore[index]
        assert copy.count("people") == 2


def test_a_torn_last_journal_line_is_dropped(tmp_path: Path) -> None:
    store = open_people(tmp_path / "live")
    try:
        add(store, "p1", "ann@x.org")
        add(store, "p2", "bob@x.org")
        image = crash_image(tmp_path / "live", tmp_path / "image")
    finally:
        store.close()
    journal = image / "hub.journal"
    whole = journal.read_bytes()
    last = whole.splitlines(keepends=True)[-1]
    journal.write_bytes(whole[: -len(last)] + last[: len(last) // 2])  # p2's line torn
    with open_people(image) as copy:
        assert copy.get("people", "p1") is not None
        assert copy.get("people", "p2") is None
        add(copy, "p3", "carl@x.org")
    with open_people(image) as copy:
        assert sorted(d["_key"] for d in copy.scan("people")) == ["p1", "p3"]


def test_a_damaged_journal_line_before_good_ones_refuses_to_open(tmp_path: Path) -> None:
    store = open_people(tmp_path / "live")
    try:
        for i in range(3):
            add(store, f"p{i}", f"u{i}@x.org")
        image = crash_image(tmp_path / "live", tmp_path / "image")
    finally:
        store.close()
    journal = image / "hub.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"u1@x.org", b"u1@y.org")  # checksum no longer matches
    journal.write_bytes(b"".join(lines))
    before = journal.read_bytes()
    with pytest.raises(StoreDamaged, match=r"journal .* is damaged at byte") as caught:
        open_people(image)
    assert "\n" not in str(caught.value)
    assert journal.read_bytes() == before  # nothing cut, nothing rewritten
    with pytest.raises(StoreDamaged):  # and the lock was released
        open_people(image)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b.replace(b'"', b"'", 3), id="garbled"),
        pytest.param(lambda b: b"\xff\xfe\x00" + b[3:], id="not-utf8"),
        pytest.param(lambda b: b"[1, 2, 3]", id="not-a-database"),
        pytest.param(lambda b: b'{"people": [1, 2]}', id="table-not-a-dict"),
    ],
)
def test_a_damaged_snapshot_refuses_to_start_and_never_starts_empty(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
        store.compact()
        add(store, "p2", "bob@x.org")
    snapshot = tmp_path / "hub.json"
    good = snapshot.read_bytes()
    snapshot.write_bytes(damage(good))
    damaged = snapshot.read_bytes()
    with pytest.raises(StoreDamaged) as caught:
        open_people(tmp_path)
    message = str(caught.value)
    assert "damaged" in message and str(snapshot) in message and "hub.json.bak" in message
    assert "\n" not in message
    assert snapshot.read_bytes() == damaged  # left for the operator to inspect
    # Restoring the file is all it takes; the failed open released the lock.
    snapshot.write_bytes(good)
    with open_people(tmp_path) as store:
        assert store.count("people") == 2


def test_the_backup_snapshot_opens_when_put_back(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
    with open_people(tmp_path) as store:
        add(store, "p2", "bob@x.org")
    (tmp_path / "hub.json").write_bytes(b"{")
    with pytest.raises(StoreDamaged):
        open_people(tmp_path)
    shutil.copy(tmp_path / "hub.json.bak", tmp_path / "hub.json")
    with open_people(tmp_path) as store:
        assert store.get("people", "p1") is not None


# ----------------------------------------------------------- write errors
def test_a_change_that_cannot_be_written_is_not_applied(tmp_path: Path) -> None:
    """The file size limit makes the journal write fail half way: the store
    reports it, keeps nothing of it, and goes on working."""
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from storage import Index, StoreWriteError
        from storage.tinydb_store import TinyDBStore
        store = TinyDBStore({str(tmp_path)!r}, {INDEXES!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = max(store._journal.size, (store.path.stat().st_size)) + 300
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        try:
            with store.transaction() as tx:
                tx.put("people", "big", {{"email": "big@x.org", "team": "a", "pad": "x" * 5000}})
        except StoreWriteError as exc:
            print("refused:", exc)
        assert store.get("people", "big") is None
        assert store.lookup("people", "email", "big@x.org") == []
        with store.transaction() as tx:
            tx.put("people", "small", {{"email": "small@x.org", "team": "a"}})
        print("small ok")
        sys.stdout.flush()
        import os
        os._exit(0)  # a crash: no close, no compaction
        """
    )
    done = subprocess.run(
        [PYTHON, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "refused: The change was not saved: " in done.stdout
    assert "small ok" in done.stdout
    with open_people(tmp_path) as store:
        assert store.get("people", "big") is None
        assert store.get("people", "small") is not None
        assert store.get("people", "p1") is not None


def test_a_closed_store_refuses_changes(tmp_path: Path) -> None:
    store = open_people(tmp_path)
    store.close()
    store.close()  # twice is harmless
    with pytest.raises(StoreWriteError, match="closed"), store.transaction() as tx:
        tx.put("people", "p1", {"email": "ann@x.org"})


# ------------------------------------------------------------ process lock
def test_a_second_opener_gets_store_locked(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
        with pytest.raises(StoreLocked, match=r"in use by process \d+"):
            open_people(tmp_path)
        done = subprocess.run(
            [
                PYTHON,
                "-c",
                "import sys\n"
                "from storage import StoreLocked\n"
                "from storage.tinydb_store import TinyDBStore\n"
                f"try:\n    TinyDBStore({str(tmp_path)!r})\n"
                "except StoreLocked as exc:\n    print(exc); sys.exit(3)\n",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 3, done.stderr
        assert "in use by process" in done.stdout and "--data-dir" in done.stdout
        add(store, "p2", "bob@x.org")  # the holder is unaffected
    with open_people(tmp_path) as store:  # released on close
        assert store.count("people") == 2


# ------------------------------------------------------------- threads
def test_threads_are_serialised_and_lose_no_update(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        add(store, "counter", "c@x.org", n=0)
        errors: list[BaseException] = []

        def bump(times: int) -> None:
            try:
                for _ in range(times):
                    with store.transaction() as tx:
                        doc = tx.get("people", "counter")
                        doc["n"] += 1  # type: ignore[index]
                        tx.put("people", "counter", doc)  # type: ignore[arg-type]
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=bump, args=(50,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.get("people", "counter")["n"] == 400  # type: ignore[index]
    with open_people(tmp_path) as store:
        assert store.get("people", "counter")["n"] == 400  # type: ignore[index]


def test_journal_lines_are_checksummed_json(tmp_path: Path) -> None:
    store = open_people(tmp_path)
    try:
        add(store, "p1", "ann@x.org")
        line = (tmp_path / "hub.journal").read_bytes().splitlines()[-1]
    finally:
        store.close()
    crc, body = line.split(b" ", 1)
    record = json.loads(body)
    assert len(crc) == 8 and record["ops"][0][:3] == ["p", "people", "p1"]


def test_the_snapshot_is_written_in_pieces_but_is_the_same_json(tmp_path: Path) -> None:
    from storage import tinydb_store

    with open_people(tmp_path) as store:
        for i in range(tinydb_store.SNAPSHOT_CHUNK_DOCS * 2 + 7):
            add(store, f"p{i}", f"u{i}@x.org", name='Zoë 漢字 "q" \\ \n')
        with store.transaction() as tx:
            tx.put("empty_after", "k", {"x": 1})
        with store.transaction() as tx:
            tx.delete("empty_after", "k")
        store.compact()
        expected = json.dumps(store._data, ensure_ascii=False, separators=(",", ":"))
    assert (tmp_path / "hub.json").read_bytes() == expected.encode("utf-8")
    assert json.loads((tmp_path / "hub.json").read_bytes())["empty_after"] == {}


def test_text_that_is_not_unicode_is_refused_whole(tmp_path: Path) -> None:
    with open_people(tmp_path) as store:
        add(store, "p1", "ann@x.org")
        with pytest.raises(StoreWriteError, match="not valid Unicode"), store.transaction() as tx:
            tx.put("people", "p2", {"email": "bob@x.org", "team": "a"})
            tx.put("people", "p3", {"email": "carl@x.org", "team": "a", "name": "Carl\ud800"})
        assert store.get("people", "p2") is None and store.count("people") == 1
        add(store, "p4", "dan@x.org")  # and the store goes on
    with open_people(tmp_path) as store:
        assert sorted(d["_key"] for d in store.scan("people")) == ["p1", "p4"]
