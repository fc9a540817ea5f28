"""Single-use links for setting a password (SPEC rules 2 and 8).

The raw token (256 random bits) goes into the email only; the store keeps its
SHA-256. A slow hash adds nothing for a random 256-bit secret, and a plain
digest lets the set-password page find the token by key in constant time.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hub.schema import TOKENS
from storage import Transaction


class TokenKind(StrEnum):
    INVITATION = "invitation"
    RESET = "reset"


LIFETIME = {
    TokenKind.INVITATION: timedelta(days=7),
    TokenKind.RESET: timedelta(hours=1),
}


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue(tx: Transaction, account_id: str, kind: TokenKind, now: datetime) -> str:
    """A new token of ``kind``; every earlier unused one of that kind dies, so
    a resent invitation makes the old link useless."""
    revoke(tx, account_id, now, kinds=(kind,))
    raw = secrets.token_urlsafe(32)
    tx.put(
        TOKENS,
        digest(raw),
        {
            "account_id": account_id,
            "kind": kind.value,
            "created_at": now.isoformat(),
            "expires_at": (now + LIFETIME[kind]).isoformat(),
            "used_at": None,
        },
    )
    return raw


def revoke(
    tx: Transaction, account_id: str, now: datetime, kinds: tuple[TokenKind, ...] = tuple(TokenKind)
) -> None:
    for doc in tx.lookup(TOKENS, "account_id", account_id):
        if doc["kind"] in kinds and not doc.get("used_at"):
            doc["used_at"] = now.isoformat()
            doc["revoked"] = True
            tx.put(TOKENS, doc["_key"], doc)


def usable(doc: dict[str, Any] | None, now: datetime) -> bool:
    return (
        doc is not None
        and not doc.get("used_at")
        and datetime.fromisoformat(doc["expires_at"]) > now
    )


def issued_since(tx: Transaction, account_id: str, kind: TokenKind, since: datetime) -> int:
    return sum(
        1
        for doc in tx.lookup(TOKENS, "account_id", account_id)
        if doc["kind"] == kind.value and datetime.fromisoformat(doc["created_at"]) >= since
    )


def purgeable(doc: dict[str, Any], now: datetime) -> bool:
    """Used or expired for over a day: the token only takes room, and its
    hash is useless to anyone."""
    ended = doc.get("used_at") or doc["expires_at"]
    return datetime.fromisoformat(ended) < now - timedelta(days=1)
