"""Suspended accounts waiting for deletion, and the once-a-day digest record
(SPEC "Reminders"). Delivery is the running process's job; the hub decides
what is pending, who hears of it, and whether today's digest already went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hub.core import HubCore
from hub.model import Account, DataHeldSummary, Role, Status
from hub.schema import ACCOUNTS, DATA, DIGESTS


@dataclass(frozen=True)
class PendingDeletion:
    account: Account
    days_suspended: int
    data: DataHeldSummary


class Reminders(HubCore):
    def pending_deletion(self, centre_id: str, after_days: int = 7) -> list[PendingDeletion]:
        now = self.now()
        pending = []
        for doc in self.store.lookup(ACCOUNTS, "centre_id", centre_id):
            account = Account.from_doc(doc)
            if account.status is not Status.SUSPENDED or account.suspended_at is None:
                continue
            if account.snoozed_until and account.snoozed_until > now:
                continue
            days = (now - account.suspended_at).days
            if days < after_days:
                continue
            counts: dict[str, int] = {}
            for item in self.store.lookup(DATA, "owner_id", account.account_id):
                counts[item["site"]] = counts.get(item["site"], 0) + 1
            pending.append(PendingDeletion(account, days, DataHeldSummary(counts)))
        return sorted(pending, key=lambda p: (-p.days_suspended, p.account.name.casefold()))

    def digest_recipients(self, centre_id: str) -> list[Account]:
        """The coordinator and admins who are active."""
        accounts = (
            Account.from_doc(d) for d in self.store.lookup(ACCOUNTS, "centre_id", centre_id)
        )
        return sorted(
            (a for a in accounts if a.active and a.role in (Role.COORDINATOR, Role.ADMIN)),
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

    def forget_old_digests(self, before: date) -> int:
        old = [d["_key"] for d in self.store.scan(DIGESTS) if d["day"] < before.isoformat()]
        with self.store.transaction() as tx:
            for key in old:
                tx.delete(DIGESTS, key)
        return len(old)

    @staticmethod
    def yesterday(day: date) -> date:
        return day - timedelta(days=1)
