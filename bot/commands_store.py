"""The commands about the store itself: ``store compact``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bot.config import Config
from hub.schema import INDEXES, migrate
from storage.tinydb_store import TinyDBStore


def cmd_store_compact(args: argparse.Namespace, cfg: Config) -> int:
    """Fold the journal into a new snapshot, with the bot stopped. With
    ``--replace-backup`` the old snapshot replaces ``hub.json.bak`` even when
    it holds fewer documents (a hub that really did shrink)."""
    store = TinyDBStore(cfg.data_dir, INDEXES, replace_smaller_backup=args.replace_backup)
    try:
        migrate(store)
        store.compact()
        documents = sum(store.count(t) for t in {i.table for i in INDEXES})
    finally:
        store.close()
    print(f"Compacted the store in {cfg.data_dir} ({documents} indexed documents).")
    return 0


def register(sub: Any, add: Callable[..., Any]) -> None:
    """Add the ``store`` commands to the ``hubbot`` parser."""
    store = sub.add_parser("store", help="look after the store itself")
    store_sub = store.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    p = add(
        "compact",
        cmd_store_compact,
        "fold the journal into a new snapshot (the bot must be stopped)",
        store_sub,
    )
    p.add_argument(
        "--replace-backup",
        action="store_true",
        help="replace hub.json.bak even with a snapshot holding fewer documents",
    )
