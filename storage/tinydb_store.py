"""The TinyDB store: an in-memory TinyDB, a durable journal, atomic snapshots.

Layout of a data directory::

    hub.json       the snapshot, in TinyDB's own JSON format (TinyDB opens it)
    hub.json.bak   the snapshot before the last compaction
    hub.journal    transactions since the snapshot (see storage.journal)
    hub.lock       held with flock while a process has the store open

Only a directory holding none of these starts a new store, and it gets its
snapshot before anything else. A directory with a journal, a backup or a lock
but no snapshot, a snapshot without the store's own metadata, or a journal
that does not follow its snapshot is damaged: the store refuses to open it
and says how to restore, so that a lost ``hub.json`` never becomes an empty
hub (and then an empty backup).

Why this shape: TinyDB's JSONStorage rewrites the whole file in place on every
write, which is slow at scale and can leave half-old, half-new JSON after a
crash; its CachingMiddleware may lose up to a thousand confirmed writes. Here
every transaction is one journal line, written before it is applied in
memory and fsync'd (one fdatasync serving all transactions that commit
meanwhile: group commit) before the transaction returns,
and the snapshot is only ever replaced by an atomic rename. TinyDB still holds
the data (through :class:`MemorySnapshotStorage`) and reads the file.
"""

from __future__ import annotations

import fcntl
import gc
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from storage.base import (
    Doc,
    Index,
    Store,
    StoreDamaged,
    StoreLocked,
    StoreWriteError,
    Transaction,
)
from storage.journal import Journal, _explain, _fsync_dir, write_atomically

log = logging.getLogger(__name__)

META_TABLE = "_meta"
META_KEY = "store"
SNAPSHOT = "hub.json"
BACKUP = "hub.json.bak"
JOURNAL = "hub.journal"
LOCK = "hub.lock"
STORE_FILES = (SNAPSHOT, BACKUP, JOURNAL, LOCK)
# Compact when the journal passes this size: replay stays quick at start-up,
# and the pause (one snapshot write) comes rarely.
COMPACT_AFTER_BYTES = 64 * 1024 * 1024
# After a snapshot could not be written (a full disk), the next try waits
# this long: each try writes up to the whole store again, and on a full disk
# every change would pay for one while holding the lock.
COMPACT_RETRY_SECONDS = 60.0
# Documents per piece when writing a snapshot: the file is written piece by
# piece instead of as one string the size of the store (and its bytes copy).
SNAPSHOT_CHUNK_DOCS = 2000
# Objects made while opening above which one garbage collection is run at once.
_LARGE_LOAD = 100_000
_NONE: dict[str, Any] = {}  # the rows of a table that does not exist yet (never written to)
_WRITE_REFUSED = "write through TinyDBStore.transaction(), never TinyDB's table API"


@contextmanager
def _loading() -> Iterator[None]:
    """Build the in-memory database without the cyclic garbage collector.

    Loading creates millions of dicts and lists at once, and the collector
    would rescan them again and again while they are being made (it doubles
    the time to open a large store); they hold no reference cycles. After a
    large load, one full collection files them all as old at once, here,
    instead of in the middle of the first changes somebody makes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            if gc.get_count()[0] > _LARGE_LOAD:
                gc.collect()


def snapshot_pieces(data: dict[str, dict[str, Any]]) -> Iterator[bytes]:
    """``json.dumps(data)`` (compact, UTF-8) as a sequence of small pieces."""

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    yield b"{"
    for number, (table, rows) in enumerate(data.items()):
        yield (("," if number else "") + dumps(table) + ":{").encode("utf-8")
        items = list(rows.items())
        for start in range(0, len(items), SNAPSHOT_CHUNK_DOCS):
            body = dumps(dict(items[start : start + SNAPSHOT_CHUNK_DOCS]))[1:-1]
            yield (("," if start else "") + body).encode("utf-8")
        yield b"}"
    yield b"}"


def _new_store_id() -> str:
    return secrets.token_hex(8)


def _documents(data: dict[str, dict[str, Any]]) -> int:
    """The documents a snapshot holds, the store's own metadata apart."""
    return sum(len(rows) for table, rows in data.items() if table != META_TABLE)


def clone(value: Any) -> Any:
    """A deep copy of JSON-shaped data, several times quicker than deepcopy."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


class _StrKeyTable(Table):
    """TinyDB table whose document ids are our string keys."""

    document_id_class = str  # type: ignore[assignment]

    def _update_table(self, updater: Callable[[dict[Any, Any]], None]) -> None:
        # Every TinyDB table write (insert, update, upsert, remove, truncate)
        # comes here; refuse before it edits the live documents in memory.
        raise RuntimeError(_WRITE_REFUSED)

    def _get_next_id(self) -> Any:  # insert asks for an id first
        raise RuntimeError(_WRITE_REFUSED)


class MemorySnapshotStorage(Storage):
    """A TinyDB storage that keeps the database in memory.

    Writes through TinyDB's own table API would bypass the journal, so they
    are refused: every change goes through :meth:`TinyDBStore.transaction`.
    """

    def __init__(self, data: dict[str, dict[str, Any]]) -> None:
        self.memory = data

    def read(self) -> dict[str, dict[str, Any]]:
        # A new outer dict: TinyDB's drop_table() deletes from what it read.
        return dict(self.memory)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        raise RuntimeError(_WRITE_REFUSED)


class _NotCached:
    """Wraps a predicate for TinyDB's search without filling its query cache."""

    def __init__(self, predicate: Callable[[Doc], bool]) -> None:
        self._predicate = predicate

    def __call__(self, doc: Doc) -> bool:
        return self._predicate(doc)

    def is_cacheable(self) -> bool:
        return False


class _Tx(Transaction):
    def __init__(self, store: TinyDBStore) -> None:
        self._store = store
        self.pending: dict[tuple[str, str], Doc | None] = {}

    def get(self, table: str, key: str) -> Doc | None:
        if (table, key) in self.pending:
            doc = self.pending[(table, key)]
            return clone(doc) if doc is not None else None
        return self._store.get(table, key)

    def lookup(self, table: str, field: str, value: Any) -> list[Doc]:
        found = {
            doc["_key"]: doc
            for doc in self._store.lookup(table, field, value)
            if (table, doc["_key"]) not in self.pending
        }
        for (t, key), doc in self.pending.items():
            if t == table and doc is not None and doc.get(field) == value:
                found[key] = clone(doc)
        return [found[k] for k in sorted(found)]

    def put(self, table: str, key: str, doc: Doc) -> None:
        stored = clone(doc)
        stored["_key"] = key
        self.pending[(table, key)] = stored

    def delete(self, table: str, key: str) -> None:
        self.pending[(table, key)] = None


class TinyDBStore(Store):
    """See the module docstring. Open one per process; share it among threads."""

    def __init__(
        self,
        data_dir: Path | str,
        indexes: Iterable[Index] = (),
        *,
        compact_after_bytes: int = COMPACT_AFTER_BYTES,
        replace_smaller_backup: bool = False,
    ) -> None:
        """``replace_smaller_backup``: let a compaction replace ``hub.json.bak``
        with a snapshot holding fewer documents than it (the operator said so);
        otherwise such a backup is kept, as the last copy of a larger hub."""
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / SNAPSHOT
        self.backup = self.data_dir / BACKUP
        self._compact_after = compact_after_bytes
        self._compact_again_at = 0.0  # time.monotonic() of the next try after a failure
        self._replace_smaller_backup = replace_smaller_backup
        self._lock = threading.RLock()
        self._closed = False
        self._create_if_new()
        self._lock_file = self._take_process_lock()
        self._indexes: dict[tuple[str, str], dict[Any, set[str]]] = {}
        self._unique = {(i.table, i.field) for i in indexes if i.unique}
        for index in indexes:
            self._indexes[(index.table, index.field)] = {}
        try:
            with _loading():
                data = self._read_snapshot()
                self._db = TinyDB(data, storage=MemorySnapshotStorage)
                self._db.table_class = _StrKeyTable
                self._data = data
                meta = self._meta_doc()
                self._seq = int(meta["journal_seq"])
                # Documents in the snapshot on disk and in the backup: a
                # compaction never swaps a backup for a smaller store unasked.
                self._snapshot_docs = _documents(data)
                self._backup_docs = int(meta.get("backup_documents", 0))
                # A store from before store ids gets one; snapshots keep it.
                self._store_id = str(meta.get("store_id") or _new_store_id())
                meta["store_id"] = self._store_id
                self._journal = Journal(self.data_dir / JOURNAL)
                replayed = self._replay(checked_against=meta.get("store_id") and self._store_id)
                self._rebuild_indexes()
            if replayed:
                self.compact()
        except BaseException:
            self._release_process_lock()
            raise

    # ----------------------------------------------------------- process lock
    def _take_process_lock(self) -> Any:
        lock_path = self.data_dir / LOCK
        f = open(lock_path, "a+")  # noqa: SIM115 - held open for the store's life
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise StoreLocked(
                f"The store in {self.data_dir} is in use by {holder}; "
                "stop it first or use another --data-dir."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()}")
        f.flush()
        return f

    def _release_process_lock(self) -> None:
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        finally:
            self._lock_file.close()

    # --------------------------------------------------------------- snapshot
    def _create_if_new(self) -> None:
        """Give a directory holding none of the store's files its first
        snapshot, before anything else is written there: a crash at any
        moment of this leaves either no store at all or a whole one, never
        a lock or a journal without a snapshot (which means damage)."""
        present = [name for name in STORE_FILES if (self.data_dir / name).exists()]
        if present and SNAPSHOT not in present:
            raise self._no_snapshot(present)  # before even the lock file is made
        if present:
            return
        first = {META_TABLE: {META_KEY: {"journal_seq": 0, "store_id": _new_store_id()}}}
        tmp = self.data_dir / f"{SNAPSHOT}.new-{os.getpid()}.tmp"
        try:
            write_atomically(tmp, snapshot_pieces(first))
            try:
                os.link(tmp, self.path)  # never replaces a snapshot made meanwhile
            except FileExistsError:
                pass
            _fsync_dir(self.data_dir)
        except OSError as exc:
            raise StoreWriteError(f"The new store was not created: {_explain(exc)}.") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def _damaged(self, what: str) -> StoreDamaged:
        if self.backup.exists():
            how = (
                f" To go back to the last good copy, stop every hubbot using it, move "
                f"{self.data_dir / JOURNAL} aside and copy {self.backup} to {self.path}; "
                "changes made after that copy are lost."
            )
        else:
            how = " Restore the data directory from a backup."
        return StoreDamaged(f"{what}; the store was not opened and nothing was changed.{how}")

    def _no_snapshot(self, present: list[str]) -> StoreDamaged:
        return self._damaged(
            f"The store in {self.data_dir} is damaged: its snapshot {SNAPSHOT} is missing "
            f"although {', '.join(present)} {'is' if len(present) == 1 else 'are'} there"
        )

    def _read_snapshot(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            raise self._no_snapshot([n for n in STORE_FILES if (self.data_dir / n).exists()])
        try:
            with open(self.path, "rb") as f:
                text = f.read().decode("utf-8")
            # The bytes are gone before parsing: the file is not held twice.
            data = json.loads(text)
            del text
            if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
                raise ValueError("not a TinyDB document")
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._damaged(
                f"The store {self.path} is damaged ({exc.__class__.__name__})"
            ) from None
        meta = data.get(META_TABLE, {}).get(META_KEY)
        if not isinstance(meta, dict) or not isinstance(meta.get("journal_seq"), int):
            raise self._damaged(
                f"The store {self.path} is damaged: it has none of the store's own "
                "metadata, so it is not a whole snapshot of a hub"
            )
        return data

    def _replay(self, *, checked_against: str | None) -> int:
        """Apply the journal's transactions that follow the snapshot. The
        journal must continue this very snapshot: its records belong to this
        store (``checked_against``, when the snapshot names its store) and
        carry on from the snapshot's number without a gap; records the
        snapshot already holds (a crash in the middle of a compaction) are
        skipped."""
        replayed = 0
        for record in self._journal.replay():
            seq = record.get("seq")
            of = record.get("of")
            if checked_against and of is not None and of != checked_against:
                raise self._damaged(
                    f"The journal {self._journal.path} belongs to another store than {self.path}"
                )
            if not isinstance(seq, int) or seq > self._seq + 1:
                raise self._damaged(
                    f"The journal {self._journal.path} does not follow the snapshot "
                    f"{self.path} (it continues from change {seq}, the snapshot holds "
                    f"{self._seq}): they are from different moments"
                )
            if seq <= self._seq:
                continue
            self._apply(record["ops"])
            self._seq = seq
            replayed += 1
        return replayed

    def _meta_doc(self) -> dict[str, Any]:
        return self._data[META_TABLE][META_KEY]

    def compact(self) -> None:
        """Write everything to a new snapshot atomically and empty the journal.

        The snapshot being replaced becomes ``hub.json.bak``, unless it holds
        fewer documents than the backup there (and the store was not told
        otherwise): then the backup is kept, as the copy of a larger hub."""
        with self._lock:
            meta = self._meta_doc()
            meta["journal_seq"] = self._seq
            if self.path.exists():
                if self._snapshot_docs >= self._backup_docs or self._replace_smaller_backup:
                    tmp = self.backup.with_name(self.backup.name + ".tmp")
                    try:
                        tmp.unlink(missing_ok=True)
                        os.link(self.path, tmp)
                        os.replace(tmp, self.backup)
                    except OSError as exc:  # a full or read-only disk: one clear sentence
                        raise StoreWriteError(
                            f"The snapshot was not saved: {_explain(exc)}."
                        ) from exc
                    self._backup_docs = self._snapshot_docs
                else:
                    log.warning(
                        "%s was kept: it holds %d documents and the store only %d. Open the "
                        "store with replace_smaller_backup (hubbot store compact "
                        "--replace-backup) to replace it.",
                        self.backup,
                        self._backup_docs,
                        self._snapshot_docs,
                    )
            meta["backup_documents"] = self._backup_docs
            write_atomically(self.path, snapshot_pieces(self._data))
            self._snapshot_docs = _documents(self._data)
            try:
                self._journal.reset()
            except OSError as exc:  # the new snapshot holds it all; replay skips it
                raise StoreWriteError(f"The journal was not emptied: {_explain(exc)}.") from exc

    # ----------------------------------------------------------------- reads
    # get, lookup, count and meta take no lock, so a read never waits for a
    # writer (nor, under load, queues behind thirty threads for the lock and
    # then for the GIL). That is safe because:
    # - a stored document is never changed in place: a commit puts a new
    #   object under the key (transactions hand out and take in copies), so
    #   a reader holding the old one copies a whole, consistent document;
    # - each step a reader takes on the shared dicts and sets (dict.get,
    #   sorted() of an index set of strings) is a single C call that the GIL
    #   does not interrupt in CPython 3.11-3.13 (a free-threaded build would
    #   need the lock back here);
    # - indexes gain a key before the document is replaced and lose the old
    #   value's entry only after (see _apply), and lookup re-checks the field
    #   on the document it read, so a reader sees each document either as it
    #   was or as it is, never missing from both.
    # What a lone read does not promise is a view of several documents from
    # one instant: read those inside a transaction, which holds the lock.
    def get(self, table: str, key: str) -> Doc | None:
        doc = self._data.get(table, _NONE).get(key)
        return clone(doc) if doc is not None else None

    def lookup(self, table: str, field: str, value: Any) -> list[Doc]:
        keys = self._indexes[(table, field)].get(value)
        if not keys:
            return []
        rows = self._data.get(table, _NONE)
        found = []
        for key in sorted(keys):
            doc = rows.get(key)
            if doc is not None and doc.get(field) == value:
                found.append(clone(doc))
        return found

    def scan(self, table: str, predicate: Callable[[Doc], bool] | None = None) -> Iterator[Doc]:
        with self._lock:
            if table not in self._data:
                return iter(())
            tinydb_table = self._db.table(table)
            docs = tinydb_table.search(_NotCached(predicate)) if predicate else tinydb_table.all()
            return iter([clone(dict(d)) for d in docs])

    def count(self, table: str) -> int:
        return len(self._data.get(table, _NONE))

    def meta(self, name: str, default: Any = None) -> Any:
        return clone(self._meta_doc().get(name, default))

    def set_meta(self, name: str, value: Any) -> None:
        with self.transaction() as tx:
            doc = tx.get(META_TABLE, META_KEY) or {}
            doc[name] = value
            tx.put(META_TABLE, META_KEY, doc)

    # ---------------------------------------------------------------- writes
    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Transaction]:
        ticket = None
        with self._lock:
            if self._closed:
                raise StoreWriteError("The change was not saved: the store is closed.")
            tx = _Tx(self)
            yield tx
            if tx.pending:
                ticket = self._commit(tx.pending)
        if ticket is not None and durable:
            # Outside the lock, so one fdatasync serves every transaction
            # that committed meanwhile (group commit); the caller hears of
            # its change only once it is on disk.
            self._journal.sync(ticket)

    def _commit(self, pending: dict[tuple[str, str], Doc | None]) -> tuple[int, int]:
        """Write the record (in commit order, under the lock) and apply it;
        returns the journal ticket the caller must sync before it returns."""
        self._check_unique(pending)
        ops: list[list[Any]] = []
        for (table, key), doc in pending.items():
            if table == META_TABLE and doc is not None:
                doc = {**doc, "journal_seq": self._seq}
            ops.append(["p", table, key, doc] if doc is not None else ["d", table, key])
        record = {"seq": self._seq + 1, "of": self._store_id, "ops": ops}
        ticket = self._journal.write(record)  # raises StoreWriteError, nothing applied
        self._seq += 1
        self._apply(ops, index=True)
        if self._journal.size > self._compact_after and time.monotonic() >= self._compact_again_at:
            try:
                self.compact()
            except StoreWriteError as exc:
                # The change is in the journal: it stands once synced. The
                # snapshot is tried again after a change a while later.
                self._compact_again_at = time.monotonic() + COMPACT_RETRY_SECONDS
                log.warning(
                    "%s The journal keeps every change; trying again in %.0f s.",
                    exc,
                    COMPACT_RETRY_SECONDS,
                )
        return ticket

    def _check_unique(self, pending: dict[tuple[str, str], Doc | None]) -> None:
        for table, field in self._unique:
            claimed: dict[Any, str] = {}
            for (t, key), doc in pending.items():
                if t != table or doc is None or doc.get(field) is None:
                    continue
                value = doc[field]
                holders = self._indexes[(table, field)].get(value, set()) - {key}
                holders = {k for k in holders if (table, k) not in pending}
                if holders or claimed.setdefault(value, key) != key:
                    raise StoreWriteError(
                        f"The change was not saved: {table}.{field} must be unique."
                    )

    def _apply(self, ops: list[list[Any]], *, index: bool = False) -> None:
        """Apply one transaction's operations. The order per document (index
        the new values, replace the document, then drop entries of values it
        no longer has) is what lets reads go without the lock."""
        for op in ops:
            kind, table, key = op[0], op[1], op[2]
            rows = self._data.setdefault(table, {})
            old = rows.get(key)
            new = op[3] if kind == "p" else None
            if index and new is not None:
                self._index(table, key, new)
            if new is not None:
                rows[key] = new
            else:
                rows.pop(key, None)
            if index and old is not None:
                self._unindex(table, key, old, keep=new)
        self._db.clear_cache()

    def _index(self, table: str, key: str, doc: Doc) -> None:
        for (t, field), index in self._indexes.items():
            if t == table and doc.get(field) is not None:
                index.setdefault(doc[field], set()).add(key)

    def _unindex(self, table: str, key: str, doc: Doc, keep: Doc | None = None) -> None:
        """Drop the key from the entries of ``doc``'s values, except a value
        ``keep`` (the document that replaced it) still has."""
        for (t, field), index in self._indexes.items():
            value = doc.get(field)
            if t != table or value is None or (keep is not None and keep.get(field) == value):
                continue
            keys = index.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[value]

    def _rebuild_indexes(self) -> None:
        for index in self._indexes.values():
            index.clear()
        for table, rows in self._data.items():
            for key, doc in rows.items():
                self._index(table, key, doc)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._journal.size:
                    self.compact()
            except StoreWriteError:
                # The journal still holds every change; make the last ones
                # durable too, and replay them next time.
                try:
                    self._journal.sync((self._journal.generation, self._journal.size))
                except StoreWriteError:
                    pass
            finally:
                self._journal.close()
                self._release_process_lock()
