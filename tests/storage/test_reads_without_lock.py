"""Reads outside a transaction take no lock (see TinyDBStore.get): while
writers change documents, a reader must still see each one whole, as it was
or as it is, and never miss a document from an index it is in."""

from __future__ import annotations

import threading
from pathlib import Path

from storage import Index
from storage.tinydb_store import TinyDBStore

INDEXES = (Index("people", "email", unique=True), Index("people", "team"))
ROUNDS = 3000


def _store(path: Path) -> TinyDBStore:
    store = TinyDBStore(path, INDEXES)
    with store.transaction() as tx:
        for n in range(20):
            tx.put("people", f"p{n}", {"email": f"p{n}@x", "team": "a", "count": 0})
    return store


def _race(writer, reader) -> list[str]:  # type: ignore[no-untyped-def]
    """Run the writer once and the reader until the writer is done."""
    problems: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            problem = reader()
            if problem:
                problems.append(problem)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        writer()
    finally:
        done.set()
        for t in readers:
            t.join()
    return problems


def test_a_document_being_updated_is_always_found_by_its_unchanged_field(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)

    def writer() -> None:
        for n in range(ROUNDS):
            with store.transaction(durable=False) as tx:
                doc = tx.get("people", "p3")
                assert doc is not None
                doc["count"] = n + 1
                tx.put("people", "p3", doc)

    def reader() -> str | None:
        found = store.lookup("people", "email", "p3@x")
        if len(found) != 1:
            return f"lookup by email found {len(found)} documents"
        if len(store.lookup("people", "team", "a")) != 20:
            return "lookup by team missed a document"
        return None

    try:
        assert _race(writer, reader) == []
        assert store.get("people", "p3")["count"] == ROUNDS  # type: ignore[index]
    finally:
        store.close()


def test_a_changed_field_is_found_under_exactly_one_value(tmp_path: Path) -> None:
    store = _store(tmp_path)

    def writer() -> None:
        for n in range(ROUNDS):
            with store.transaction(durable=False) as tx:
                tx.put("people", "p5", {"email": "p5@x", "team": "b" if n % 2 else "a"})

    def reader() -> str | None:
        in_a = [d["_key"] for d in store.lookup("people", "team", "a")]
        in_b = [d["_key"] for d in store.lookup("people", "team", "b")]
        # Two reads, so p5 may move between them; but each answer must be
        # whole: every document listed really has the value asked for.
        docs = store.lookup("people", "team", "b")
        if any(d["team"] != "b" for d in docs):
            return "a document listed under a value it does not have"
        if len([k for k in in_a if k != "p5"]) != 19:
            return "another document went missing"
        if in_b not in ([], ["p5"]):
            return f"unexpected documents under b: {in_b}"
        return None

    try:
        assert _race(writer, reader) == []
    finally:
        store.close()


def test_a_deleted_and_recreated_document_is_never_read_half_made(tmp_path: Path) -> None:
    store = _store(tmp_path)

    def writer() -> None:
        for n in range(ROUNDS):
            with store.transaction(durable=False) as tx:
                if n % 2:
                    tx.put("people", "p7", {"email": "p7@x", "team": "a", "tags": list(range(50))})
                else:
                    tx.delete("people", "p7")

    def reader() -> str | None:
        doc = store.get("people", "p7")
        if doc is not None and doc.get("tags", list(range(50))) != list(range(50)):
            return "a document read half made"
        for found in store.lookup("people", "email", "p7@x"):
            if found["_key"] != "p7":
                return "a lookup returned the wrong document"
        return None

    try:
        assert _race(writer, reader) == []
    finally:
        store.close()
