"""The hub's tables and indexes, and the schema version of its documents.

The store is told which fields to index; it knows nothing else about the hub.
``migrate`` brings an older store up to :data:`SCHEMA_VERSION` when opened.
"""

from __future__ import annotations

from storage import Index, Store

SCHEMA_VERSION = 1

ACCOUNTS = "accounts"
CENTRES = "centres"
DATA = "progression_data"
TOKENS = "tokens"
OUTBOX = "outbox"
AUDIT = "audit"
LINKS = "chat_links"
LINK_CODES = "link_codes"
DIGESTS = "digests"

INDEXES = (
    Index(ACCOUNTS, "email_key", unique=True),
    Index(ACCOUNTS, "centre_id"),
    Index(DATA, "owner_id"),
    Index(DATA, "centre_id"),
    Index(TOKENS, "account_id"),
    Index(OUTBOX, "state"),
    Index(AUDIT, "centre_id"),
    Index(LINKS, "account_id"),
)


class SchemaTooNew(Exception):
    pass


def migrate(store: Store) -> None:
    """Stamp a new store; refuse one written by a newer version of the bot.

    Version 1 is the first; later migrations go here, each a function from
    version N to N+1 run inside one transaction.
    """
    version = store.meta("schema_version")
    if version is None:
        store.set_meta("schema_version", SCHEMA_VERSION)
    elif version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"This store was written by a newer hubbot (schema {version}); "
            f"this one understands schema {SCHEMA_VERSION}. Upgrade hubbot."
        )
