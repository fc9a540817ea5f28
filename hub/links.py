"""Linking a chat identity to a hub account (SPEC: Telegram linking).

``/link EMAIL`` emails a 6-digit code when the address belongs to an active
account; otherwise a decoy code is stored that nothing can match, so the
reply, the store's work and the time taken are the same either way. Five
wrong codes lock linking for the chat for 15 minutes; limits are stored, so a
restart does not reset them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from hub import email_templates
from hub.core import HubCore
from hub.errors import HubError
from hub.model import Account, Actor
from hub.schema import ACCOUNTS, LINK_CODES, LINKS
from hub.validation import lookup_key

CODE_LIFETIME = timedelta(minutes=10)
MAX_WRONG_CODES = 5
LOCK_TIME = timedelta(minutes=15)
MAX_CODE_REQUESTS_PER_HOUR = 5

LINK_CODE_SENT = (
    "If that address belongs to an active hub account, a 6-digit code is on its way "
    "to it. Send the code here to link this chat. It works for 10 minutes."
)


LOCKED = "Too many wrong codes: linking is locked for this chat for 15 minutes. Try again later."


class LinkRefused(HubError):
    """A code request or a code that cannot be accepted (locked, wrong, late)."""


def _code_hash(chat_key: str, code: str) -> str:
    return hashlib.sha256(f"{chat_key}:{code}".encode()).hexdigest()


class ChatLinks(HubCore):
    def linked_account(self, platform: str, chat_id: str) -> Account | None:
        """The active account behind a chat, or None: a suspended or deleted
        account's links stop working at once."""
        link = self.store.get(LINKS, f"{platform}:{chat_id}")
        if link is None:
            return None
        account = self.account(link["account_id"])
        return account if account is not None and account.active else None

    def chats_of(self, account_id: str) -> list[tuple[str, str]]:
        return [
            (d["platform"], d["chat_id"])
            for d in self.store.lookup(LINKS, "account_id", account_id)
        ]

    def _lock_state(self, doc: dict | None, now: datetime) -> str | None:  # type: ignore[type-arg]
        if doc and doc.get("locked_until") and datetime.fromisoformat(doc["locked_until"]) > now:
            return LOCKED
        return None

    def request_link_code(self, platform: str, chat_id: str, email: str) -> str:
        """Store a code (real or decoy) and email the real one; the answer is
        the same words whether or not the address exists."""
        chat_key = f"{platform}:{chat_id}"
        now = self.now()
        code = f"{secrets.randbelow(10**6):06d}"
        with self.store.transaction() as tx:
            doc = tx.get(LINK_CODES, chat_key) or {"failures": 0, "requests": []}
            locked = self._lock_state(doc, now)
            if locked:
                raise LinkRefused(locked)
            recent = [
                t
                for t in doc.get("requests", [])
                if datetime.fromisoformat(t) > now - timedelta(hours=1)
            ]
            if len(recent) >= MAX_CODE_REQUESTS_PER_HOUR:
                raise LinkRefused(
                    "Too many codes were asked for from this chat; try again in an hour."
                )
            key = lookup_key(email)
            holders = tx.lookup(ACCOUNTS, "email_key", key) if key else []
            account = holders[0] if holders and holders[0]["status"] == "active" else None
            doc.update(
                code_hash=_code_hash(chat_key, code) if account else secrets.token_hex(32),
                account_id=account["_key"] if account else None,
                expires_at=(now + CODE_LIFETIME).isoformat(),
                requests=[*recent, now.isoformat()],
            )
            tx.put(LINK_CODES, chat_key, doc)
            if account:
                self.send_email(
                    tx,
                    account["email"],
                    account["name"],
                    "link code",
                    email_templates.link_code(account["name"], platform.capitalize(), code),
                )
        return LINK_CODE_SENT

    def verify_link_code(self, platform: str, chat_id: str, code: str) -> Account:
        chat_key = f"{platform}:{chat_id}"
        now = self.now()
        with self.store.transaction() as tx:
            doc = tx.get(LINK_CODES, chat_key)
            locked = self._lock_state(doc, now)
            if locked:
                raise LinkRefused(locked)
            if doc is None or not doc.get("code_hash"):
                raise LinkRefused(
                    "No code is waiting for this chat; send /link and your email first."
                )
            if datetime.fromisoformat(doc["expires_at"]) <= now:
                raise LinkRefused("That code has expired; send /link and your email again.")
            expected = doc["code_hash"]
            if not hmac.compare_digest(expected, _code_hash(chat_key, code.strip())) or not doc.get(
                "account_id"
            ):
                doc["failures"] = int(doc.get("failures", 0)) + 1
                if doc["failures"] >= MAX_WRONG_CODES:
                    doc.update(
                        failures=0, code_hash=None, locked_until=(now + LOCK_TIME).isoformat()
                    )
                    tx.put(LINK_CODES, chat_key, doc)
                    message = self._lock_state(doc, now)
                    assert message
                else:
                    tx.put(LINK_CODES, chat_key, doc)
                    left = MAX_WRONG_CODES - doc["failures"]
                    message = f"That code is not right. {left} tries left."
                # The failure count must survive the refusal, so commit first.
                failure = LinkRefused(message)
            else:
                failure = None
        if failure:
            raise failure
        with self.store.transaction() as tx:
            account_doc = tx.get(ACCOUNTS, doc["account_id"])
            if account_doc is None or account_doc["status"] != "active":
                raise LinkRefused("That account can no longer be linked.")
            tx.delete(LINK_CODES, chat_key)
            tx.put(
                LINKS,
                chat_key,
                {
                    "platform": platform,
                    "chat_id": str(chat_id),
                    "account_id": account_doc["_key"],
                    "linked_at": now.isoformat(),
                },
            )
            account = Account.from_doc(account_doc)
            self.audit(
                tx,
                Actor(account.account_id, chat_key),
                account,
                "link chat",
                account.centre_id,
                account.email,
                None,
                {"chat": chat_key},
            )
            return account

    def remember_chat(self, platform: str, chat_id: str, account_id: str) -> None:
        """Record a chat identity the platform itself vouches for (a Slack
        user whose profile email is the account's), so reminders can reach it."""
        key = f"{platform}:{chat_id}"
        existing = self.store.get(LINKS, key)
        if existing and existing["account_id"] == account_id:
            return
        with self.store.transaction() as tx:
            tx.put(
                LINKS,
                key,
                {
                    "platform": platform,
                    "chat_id": str(chat_id),
                    "account_id": account_id,
                    "linked_at": self.now().isoformat(),
                },
            )

    def unlink(self, platform: str, chat_id: str) -> bool:
        key = f"{platform}:{chat_id}"
        with self.store.transaction() as tx:
            link = tx.get(LINKS, key)
            if link is None:
                return False
            tx.delete(LINKS, key)
            account = self.account(link["account_id"])
            if account:
                self.audit(
                    tx,
                    Actor(account.account_id, key),
                    account,
                    "unlink chat",
                    account.centre_id,
                    account.email,
                    {"chat": key},
                    None,
                )
            return True
