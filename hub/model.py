"""The hub's nouns: centres, accounts, Progression Test data, and who acts.

Documents in the store are plain dicts; these frozen dataclasses are what the
rest of the code reads, so that a typo in a field name fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from hub.sites import DATA_SITES, site_name


class Role(StrEnum):
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    TEACHER = "teacher"


class Status(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Centre:
    centre_id: str
    name: str
    coordinator_id: str | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Centre:
        return cls(doc["_key"], doc["name"], doc.get("coordinator_id"))


@dataclass(frozen=True)
class Account:
    account_id: str
    centre_id: str
    name: str
    email: str
    role: Role
    status: Status
    sites: tuple[str, ...]
    invitation_pending: bool
    created_at: datetime | None = None
    suspended_at: datetime | None = None
    snoozed_until: datetime | None = None
    has_password: bool = False

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Account:
        return cls(
            account_id=doc["_key"],
            centre_id=doc["centre_id"],
            name=doc["name"],
            email=doc["email"],
            role=Role(doc["role"]),
            status=Status(doc["status"]),
            sites=tuple(doc.get("sites", ())),
            invitation_pending=bool(doc.get("invitation_pending")),
            created_at=parse_time(doc.get("created_at")),
            suspended_at=parse_time(doc.get("suspended_at")),
            snoozed_until=parse_time(doc.get("snoozed_until")),
            has_password=bool(doc.get("password_hash")),
        )

    @property
    def active(self) -> bool:
        return self.status is Status.ACTIVE

    @property
    def is_admin(self) -> bool:
        """Coordinators hold every admin right too."""
        return self.role in (Role.ADMIN, Role.COORDINATOR)

    @property
    def label(self) -> str:
        return f"{self.name} <{self.email}>"

    def status_text(self) -> str:
        text = self.status.value
        if self.invitation_pending:
            text += ", invitation pending"
        return text

    def site_names(self) -> list[str]:
        return [site_name(code) for code in self.sites]


@dataclass(frozen=True)
class DataItem:
    """One Progression Test record (rule 6)."""

    item_id: str
    centre_id: str
    owner_id: str
    site: str
    title: str
    class_name: str = ""
    date: str = ""
    results: int = 0

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> DataItem:
        return cls(
            item_id=doc["_key"],
            centre_id=doc["centre_id"],
            owner_id=doc["owner_id"],
            site=doc["site"],
            title=doc["title"],
            class_name=doc.get("class_name", ""),
            date=doc.get("date", ""),
            results=int(doc.get("results", 0)),
        )


@dataclass(frozen=True)
class Actor:
    """Who is asking: a hub account through a chat identity, or the operator.

    ``via`` names the chat identity (``telegram:12345``, ``slack:U012AB``,
    ``console``) so the audit log says how a change came in.
    """

    account_id: str | None
    via: str

    @classmethod
    def operator(cls) -> Actor:
        return cls(None, "operator")

    @property
    def is_operator(self) -> bool:
        return self.account_id is None


@dataclass(frozen=True)
class DataHeldSummary:
    """How much Progression Test data an account owns, per site."""

    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def text(self) -> str:
        if not self.total:
            return "none"
        return ", ".join(
            f"{n} on {site_name(site)}"
            for site, n in self.counts.items()
            if n and site in DATA_SITES
        )


@dataclass(frozen=True)
class AuditEntry:
    time: datetime
    actor: str
    via: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AuditEntry:
        return cls(
            time=datetime.fromisoformat(doc["time"]),
            actor=doc.get("actor", ""),
            via=doc.get("via", ""),
            action=doc["action"],
            target=doc.get("target", ""),
            before=doc.get("before"),
            after=doc.get("after"),
        )
