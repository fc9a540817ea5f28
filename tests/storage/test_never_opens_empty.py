"""A lost or emptied snapshot never becomes an empty hub (issue 15, item 1).

Only a directory holding none of the store's files starts a new store; any
other shape without a whole snapshot is refused with the way to restore, and
a compaction never swaps the backup for a smaller store unless told to.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from storage import Index, StoreDamaged
from storage.tinydb_store import TinyDBStore

INDEXES = (Index("people", "email", unique=True),)


def open_people(path: Path, **kwargs) -> TinyDBStore:  # type: ignore[no-untyped-def]
    return TinyDBStore(path, INDEXES, **kwargs)


def add(store: TinyDBStore, key: str, n: int = 0) -> None:
    with store.transaction() as tx:
        tx.put("people", key, {"email": f"{key}@x.org", "n": n})


def hub_with_backup(data_dir: Path, people: int = 5) -> None:
    """Two sessions, so that hub.json.bak exists and the journal is empty."""
    with open_people(data_dir) as store:
        for i in range(people):
            add(store, f"p{i}")
    with open_people(data_dir) as store:
        add(store, "last")
    assert (data_dir / "hub.json.bak").exists()


def files(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file()}


def test_a_new_directory_starts_a_new_store_with_its_snapshot_first(tmp_path: Path) -> None:
    with open_people(tmp_path / "new") as store:
        assert store.count("people") == 0
        # The snapshot exists from the first moment, with the store's metadata.
        meta = json.loads((tmp_path / "new" / "hub.json").read_bytes())["_meta"]["store"]
        assert meta["journal_seq"] == 0 and meta["store_id"]
        add(store, "p1")
    with open_people(tmp_path / "new") as store:
        assert store.count("people") == 1


@pytest.mark.parametrize(
    "left",
    [
        pytest.param(("hub.journal", "hub.json.bak", "hub.lock"), id="all-but-the-snapshot"),
        pytest.param(("hub.json.bak",), id="only-the-backup"),
        pytest.param(("hub.journal",), id="only-the-journal"),
        pytest.param(("hub.lock",), id="only-the-lock"),
    ],
)
def test_a_missing_snapshot_is_refused_and_nothing_is_written(
    tmp_path: Path, left: tuple[str, ...]
) -> None:
    hub_with_backup(tmp_path)
    for path in tmp_path.iterdir():
        if path.name not in left:
            path.unlink()
    before = files(tmp_path)
    with pytest.raises(StoreDamaged) as caught:
        open_people(tmp_path)
    message = str(caught.value)
    assert "hub.json is missing" in message and "not opened" in message and "\n" not in message
    if "hub.json.bak" in left:
        assert "copy" in message and "hub.json.bak" in message
    else:
        assert "backup" in message
    assert files(tmp_path) == before  # no snapshot made, the backup untouched


@pytest.mark.parametrize(
    "snapshot",
    [
        pytest.param(b"{}", id="empty-object"),
        pytest.param(b'{"people": {}}', id="tables-without-metadata"),
        pytest.param(b'{"_meta": {"store": {"journal_seq": "x"}}}', id="metadata-garbled"),
    ],
)
def test_a_snapshot_without_the_stores_metadata_is_refused(tmp_path: Path, snapshot: bytes) -> None:
    hub_with_backup(tmp_path)
    (tmp_path / "hub.json").write_bytes(snapshot)
    backup = (tmp_path / "hub.json.bak").read_bytes()
    with pytest.raises(StoreDamaged, match="none of the store's own metadata") as caught:
        open_people(tmp_path)
    assert "hub.json.bak" in str(caught.value)
    assert (tmp_path / "hub.json").read_bytes() == snapshot
    assert (tmp_path / "hub.json.bak").read_bytes() == backup


def test_the_way_to_restore_that_the_message_gives_works(tmp_path: Path) -> None:
    hub_with_backup(tmp_path, people=3)
    (tmp_path / "hub.json").unlink()
    with pytest.raises(StoreDamaged):
        open_people(tmp_path)
    (tmp_path / "hub.journal").rename(tmp_path / "hub.journal.aside")
    shutil.copy(tmp_path / "hub.json.bak", tmp_path / "hub.json")
    with open_people(tmp_path) as store:
        assert store.count("people") == 3  # the copy before the last session


def test_a_journal_of_another_store_is_refused(tmp_path: Path) -> None:
    with open_people(tmp_path / "a") as a, open_people(tmp_path / "b") as b:
        add(a, "a1")
        add(b, "b1")
        journal_of_b = (tmp_path / "b" / "hub.journal").read_bytes()
        snapshot_of_a = (tmp_path / "a" / "hub.json").read_bytes()
    image = tmp_path / "image"
    image.mkdir()
    (image / "hub.json").write_bytes(snapshot_of_a)
    (image / "hub.journal").write_bytes(journal_of_b)
    with pytest.raises(StoreDamaged, match="belongs to another store"):
        open_people(image)
    assert (image / "hub.journal").read_bytes() == journal_of_b


def test_a_journal_from_a_later_snapshot_is_refused(tmp_path: Path) -> None:
    """An old snapshot put back beside the journal that followed a newer one:
    the changes in between would be silently missing."""
    live = tmp_path / "live"
    store = open_people(live)
    try:
        add(store, "p1")
        old_snapshot = (live / "hub.json").read_bytes()  # holds nothing yet
        store.compact()  # p1 now in the snapshot
        add(store, "p2")
        journal = (live / "hub.journal").read_bytes()
    finally:
        store.close()
    image = tmp_path / "image"
    image.mkdir()
    (image / "hub.json").write_bytes(old_snapshot)
    (image / "hub.journal").write_bytes(journal)
    with pytest.raises(StoreDamaged, match="does not follow the snapshot"):
        open_people(image)


def test_a_compaction_keeps_a_backup_larger_than_the_store(tmp_path: Path) -> None:
    hub_with_backup(tmp_path, people=10)
    with open_people(tmp_path) as store:
        with store.transaction() as tx:
            for i in range(10):
                tx.delete("people", f"p{i}")
        store.compact()  # the snapshot of 11 people becomes the backup
        store.compact()  # a snapshot of 1 would replace it: kept instead
    backup = json.loads((tmp_path / "hub.json.bak").read_bytes())
    assert len(backup["people"]) == 11
    assert len(json.loads((tmp_path / "hub.json").read_bytes())["people"]) == 1


def test_told_to_a_compaction_replaces_a_larger_backup(tmp_path: Path) -> None:
    hub_with_backup(tmp_path, people=10)
    with open_people(tmp_path) as store, store.transaction() as tx:
        for i in range(10):
            tx.delete("people", f"p{i}")
    with open_people(tmp_path, replace_smaller_backup=True) as store:
        store.compact()
    assert len(json.loads((tmp_path / "hub.json.bak").read_bytes())["people"]) == 1


def test_a_growing_store_replaces_its_backup_as_before(tmp_path: Path) -> None:
    hub_with_backup(tmp_path, people=2)
    with open_people(tmp_path) as store:
        add(store, "more")
    assert len(json.loads((tmp_path / "hub.json.bak").read_bytes())["people"]) == 3
