"""The outbox: every email is stored here, in the same transaction as the
change that caused it, before anyone tries to deliver it.

Delivery (SMTP or ``.eml`` files) belongs to the running process
(``bot/mailer.py``); the hub only records what must be sent and, once sent,
forgets the link inside it so that no usable token stays in the store.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.schema import OUTBOX
from storage import Store, Transaction

PENDING = "pending"
SENT = "sent"
FAILED = "failed"  # gave up after MAX_ATTEMPTS; shown by `hubbot outbox`

MAX_ATTEMPTS = 20
_TOKEN_IN_LINK = re.compile(r"token=[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class OutboxEmail:
    email_id: str
    to_email: str
    to_name: str
    kind: str
    subject: str
    text: str
    html: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OutboxEmail:
        return cls(
            email_id=doc["_key"],
            to_email=doc["to_email"],
            to_name=doc.get("to_name", ""),
            kind=doc["kind"],
            subject=doc["subject"],
            text=doc["text"],
            html=doc["html"],
            state=doc["state"],
            attempts=int(doc.get("attempts", 0)),
            created_at=datetime.fromisoformat(doc["created_at"]),
            next_attempt_at=datetime.fromisoformat(doc["next_attempt_at"]),
            sent_at=datetime.fromisoformat(doc["sent_at"]) if doc.get("sent_at") else None,
            last_error=doc.get("last_error"),
        )


def enqueue(
    tx: Transaction,
    now: datetime,
    *,
    to_email: str,
    to_name: str,
    kind: str,
    content: EmailContent,
) -> str:
    email_id = f"{now:%Y%m%d%H%M%S%f}-{secrets.token_hex(4)}"
    tx.put(
        OUTBOX,
        email_id,
        {
            "to_email": to_email,
            "to_name": to_name,
            "kind": kind,
            "subject": content.subject,
            "text": content.text,
            "html": content.html,
            "state": PENDING,
            "attempts": 0,
            "created_at": now.isoformat(),
            "next_attempt_at": now.isoformat(),
            "sent_at": None,
            "last_error": None,
        },
    )
    return email_id


def due(store: Store, now: datetime) -> list[OutboxEmail]:
    """Pending emails whose next attempt is due, oldest first."""
    emails = [OutboxEmail.from_doc(d) for d in store.lookup(OUTBOX, "state", PENDING)]
    return sorted((e for e in emails if e.next_attempt_at <= now), key=lambda e: e.email_id)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at one hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def mark_sent(store: Store, email_id: str, now: datetime) -> bool:
    """Record delivery and redact the link; False if it was already sent (so
    two deliverers racing can tell which one won)."""
    with store.transaction() as tx:
        doc = tx.get(OUTBOX, email_id)
        if doc is None or doc["state"] != PENDING:
            return False
        doc["state"] = SENT
        doc["sent_at"] = now.isoformat()
        doc["attempts"] = int(doc.get("attempts", 0)) + 1
        doc["text"] = _TOKEN_IN_LINK.sub("token=(removed after delivery)", doc["text"])
        doc["html"] = _TOKEN_IN_LINK.sub("token=(removed after delivery)", doc["html"])
        tx.put(OUTBOX, email_id, doc)
        return True


def mark_failed_attempt(store: Store, email_id: str, now: datetime, error: str) -> None:
    with store.transaction() as tx:
        doc = tx.get(OUTBOX, email_id)
        if doc is None or doc["state"] != PENDING:
            return
        attempts = int(doc.get("attempts", 0)) + 1
        doc["attempts"] = attempts
        doc["last_error"] = error[:300]
        doc["next_attempt_at"] = (now + backoff(attempts)).isoformat()
        if attempts >= MAX_ATTEMPTS:
            doc["state"] = FAILED
        tx.put(OUTBOX, email_id, doc)


def forget_bodies(store: Store, sent_before: datetime) -> int:
    """Drop the text of emails delivered before ``sent_before``: the outbox
    keeps who was sent what kind of email, when; the words are no use once
    delivered, and kept forever they would make the store grow with its
    history rather than with its accounts."""
    old = [
        d
        for d in store.lookup(OUTBOX, "state", SENT)
        if d.get("sent_at") and d["sent_at"] < sent_before.isoformat() and (d["text"] or d["html"])
    ]
    if old:
        with store.transaction() as tx:
            for doc in old:
                doc["text"] = doc["html"] = ""
                tx.put(OUTBOX, doc["_key"], doc)
    return len(old)


def all_emails(store: Store) -> list[OutboxEmail]:
    return sorted((OutboxEmail.from_doc(d) for d in store.scan(OUTBOX)), key=lambda e: e.email_id)
