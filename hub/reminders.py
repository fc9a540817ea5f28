"""Suspended accounts waiting for deletion, and the once-a-day digest record
(SPEC "Reminders"). Delivery is the running process's job; the hub decides
what is pending, who hears of it, and whether today's digest already went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hub import email_templates, tokens
from hub.core import HubCore
from hub.model import Account, DataHeldSummary, Role, Status
from hub.schema import CENTRES, DIGESTS, LINK_CODES, TOKENS

PURGE_BATCH = 500  # documents deleted per transaction: short holds of the store's lock


@dataclass(frozen=True)
class PendingDeletion:
    account: Account
    days_suspended: int
    data: DataHeldSummary


class Reminders(HubCore):
    def pending_deletion(self, centre_id: str, after_days: int = 7) -> list[PendingDeletion]:
        now = self.now()
        pending = []
        for account in self.centre_accounts(centre_id):
            if account.status is not Status.SUSPENDED or account.suspended_at is None:
                continue
            if account.snoozed_until and account.snoozed_until > now:
                continue
            days = (now - account.suspended_at).days
            if days < after_days:
                continue
            pending.append(PendingDeletion(account, days, self.data_held(account.account_id)))
        return sorted(pending, key=lambda p: (-p.days_suspended, p.account.name.casefold()))

    def digest_recipients(self, centre_id: str) -> list[Account]:
        """The coordinator and admins who are active."""
        return sorted(
            (
                a
                for a in self.centre_accounts(centre_id)
                if a.active and a.role in (Role.COORDINATOR, Role.ADMIN)
            ),
            key=lambda a: (a.role is not Role.COORDINATOR, a.name.casefold()),
        )

    def claim_digest(self, centre_id: str, day: date) -> bool:
        """True exactly once per centre and day, across threads, runs and
        restarts: the claim is written before anything is sent."""
        key = f"{centre_id}:{day.isoformat()}"
        with self.store.transaction() as tx:
            if tx.get(DIGESTS, key) is not None:
                return False
            tx.put(
                DIGESTS,
                key,
                {
                    "centre_id": centre_id,
                    "day": day.isoformat(),
                    "claimed_at": self.now().isoformat(),
                    "deliveries": {},
                },
            )
            return True

    def record_delivery(self, centre_id: str, day: date, recipient: str, outcome: str) -> None:
        key = f"{centre_id}:{day.isoformat()}"
        with self.store.transaction() as tx:
            doc = tx.get(DIGESTS, key)
            if doc is None:
                return
            doc["deliveries"][recipient] = outcome
            tx.put(DIGESTS, key, doc)

    def digest_record(self, centre_id: str, day: date) -> dict | None:  # type: ignore[type-arg]
        return self.store.get(DIGESTS, f"{centre_id}:{day.isoformat()}")

    def purge_expired(self) -> int:
        """Used or expired tokens and stale link codes: housekeeping.

        The tables are read without the store's lock, which a scan of every
        token would hold while every change waited; each one found is
        checked again under the lock as it goes (a code asked for again
        meanwhile stays), a batch per transaction."""
        now = self.now()
        stale = {TOKENS: tokens.purgeable, LINK_CODES: _stale_link_code}
        found = [
            (table, doc["_key"])
            for table, is_stale in stale.items()
            for doc in self.store.scan(table)
            if is_stale(doc, now)
        ]
        removed = 0
        for start in range(0, len(found), PURGE_BATCH):
            with self.store.transaction() as tx:
                for table, key in found[start : start + PURGE_BATCH]:
                    doc = tx.get(table, key)
                    if doc is not None and stale[table](doc, now):
                        tx.delete(table, key)
                        removed += 1
        return removed

    def forget_old_digests(self, before: date) -> int:
        old = [d["_key"] for d in self.store.scan(DIGESTS) if d["day"] < before.isoformat()]
        with self.store.transaction() as tx:
            for key in old:
                tx.delete(DIGESTS, key)
        return len(old)

    def email_digest(self, account: Account, pending: list[PendingDeletion]) -> None:
        """The digest by email, for a recipient with no linked chat."""
        centre = self.store.get(CENTRES, account.centre_id) or {"name": account.centre_id}
        lines = [digest_line(p) for p in pending]
        hint = (
            "To delete, transfer the data of, restore or snooze an account, use the School "
            "Support Hub bot in Slack or Telegram (for example: delete "
            + pending[0].account.email
            + ")."
        )
        with self.store.transaction() as tx:
            self.send_email(
                tx,
                account.email,
                account.name,
                "reminder digest",
                email_templates.digest(account.name, centre["name"], lines, hint),
            )

    def failed_deliveries(self, day: date) -> list[tuple[str, str]]:
        """(centre, recipient) whose digest of ``day`` could not be delivered."""
        return [
            (doc["centre_id"], recipient)
            for doc in self.store.scan(DIGESTS, lambda d: d["day"] == day.isoformat())
            for recipient, outcome in doc.get("deliveries", {}).items()
            if outcome.startswith("failed")
        ]


def _stale_link_code(doc: dict[str, Any], now: datetime) -> bool:
    """Expired, not locked against guessing, and not asked for within the
    hour (the request count limits how often a code may be emailed)."""
    locked = doc.get("locked_until") and doc["locked_until"] > now.isoformat()
    recent = any(t > (now - timedelta(hours=1)).isoformat() for t in doc.get("requests", []))
    return not locked and not recent and doc.get("expires_at", "") < now.isoformat()


def digest_line(p: PendingDeletion) -> str:
    days = f"{p.days_suspended} day{'s' if p.days_suspended != 1 else ''}"
    return (
        f"{p.account.name} <{p.account.email}>: suspended {days}; "
        f"Progression Test data: {p.data.text()}"
    )
