"""The Store interface: a handful of document operations and one transaction.

Why so small: the hub needs documents by key, documents by an indexed field,
a scan for the rare full search, and an atomic all-or-nothing change. Anything
richer would tie the hub to one backend; this much maps onto TinyDB today and
onto a PostgreSQL table of JSONB documents later without touching ``hub/``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]


class StoreError(Exception):
    """A store problem an operator or user should read (one clear sentence)."""


class StoreLocked(StoreError):
    """Another process holds the store."""


class StoreDamaged(StoreError):
    """The files on disk cannot be read back; we refuse to start empty."""


class StoreWriteError(StoreError):
    """A change could not be made durable; nothing of it was applied."""


@dataclass(frozen=True)
class Index:
    """A secondary index on one field of one table.

    ``unique`` indexes make the store refuse a transaction that would give two
    documents the same value: a last line of defence behind the hub's rules.
    """

    table: str
    field: str
    unique: bool = False


class Transaction(ABC):
    """Reads see the transaction's own writes; nothing is visible to others
    (or on disk) until the transaction commits, and then all of it is."""

    @abstractmethod
    def get(self, table: str, key: str) -> Doc | None: ...

    @abstractmethod
    def lookup(self, table: str, field: str, value: Any) -> list[Doc]: ...

    @abstractmethod
    def put(self, table: str, key: str, doc: Doc) -> None: ...

    @abstractmethod
    def delete(self, table: str, key: str) -> None: ...


class Store(ABC):
    """Documents in named tables, each with a string key stored as ``_key``."""

    @abstractmethod
    def get(self, table: str, key: str) -> Doc | None:
        """One document (a copy the caller may keep) or None."""

    @abstractmethod
    def lookup(self, table: str, field: str, value: Any) -> list[Doc]:
        """Documents whose indexed ``field`` equals ``value``, in key order."""

    @abstractmethod
    def scan(self, table: str, predicate: Callable[[Doc], bool] | None = None) -> Iterator[Doc]:
        """Every document of a table (matching ``predicate``), in no set order."""

    @abstractmethod
    def count(self, table: str) -> int: ...

    @abstractmethod
    def transaction(self, *, durable: bool = True) -> AbstractContextManager[Transaction]:
        """An atomic change: durable when the ``with`` block exits normally,
        discarded when it raises. Transactions are serialised.

        ``durable=False`` is for bookkeeping nobody is told about (where a
        conversation stands, which deliveries were handled): it is written in
        order like any change and
        survives the process being killed, but the caller does not wait for
        the disk; the next durable change, or closing, makes it durable."""

    @abstractmethod
    def meta(self, name: str, default: Any = None) -> Any:
        """A store-level setting such as the schema version."""

    @abstractmethod
    def set_meta(self, name: str, value: Any) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
