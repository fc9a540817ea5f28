"""Where the hub's documents live.

The hub talks to the small :class:`~storage.base.Store` interface; the one
implementation today keeps a TinyDB database in memory and makes every change
durable through an append-only journal (see :mod:`storage.tinydb_store`).
Nothing here imports anything above it.
"""

from storage.base import (
    Index,
    Store,
    StoreDamaged,
    StoreError,
    StoreLocked,
    StoreWriteError,
    Transaction,
)

__all__ = [
    "Index",
    "Store",
    "StoreDamaged",
    "StoreError",
    "StoreLocked",
    "StoreWriteError",
    "Transaction",
]
