"""Reading accounts: view one, search and filter page by page (rule 9), the
audit log and a centre's counts. Every read is permission-checked too."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from hub.core import HubCore
from hub.errors import Invalid, NotAllowed
from hub.model import Account, Actor, AuditEntry, Role, Status
from hub.permissions import Action
from hub.schema import ACCOUNTS, AUDIT
from hub.validation import fold

STATUS_FILTERS = ("active", "suspended", "pending")
ROLE_FILTERS = tuple(r.value for r in Role)
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int  # 1-based
    pages: int


def paginate(items: list[T], page: int, per_page: int) -> Page[T]:
    pages = max(1, math.ceil(len(items) / per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return Page(items[start : start + per_page], len(items), page, pages)


class Directory(HubCore):
    def view(self, actor: Actor, account_id: str) -> Account:
        with self.store.transaction() as tx:
            acting = self.acting_account(tx, actor)
            doc = self.target_doc(tx, acting, account_id)
            account = Account.from_doc(doc)
            if acting is not None:
                self.check(acting, Action.VIEW, account)
            return account

    def view_by_email(self, actor: Actor, email: str) -> Account:
        """The account with this address in the actor's centre, if they may see it."""
        with self.store.transaction() as tx:
            acting = self.acting_account(tx, actor)
            if acting is None:
                raise Invalid("The operator uses the command line, not the chat.")
            doc = self.find_in_centre(tx, acting.centre_id, email)
            account = Account.from_doc(doc)
            self.check(acting, Action.VIEW, account)
            return account

    def search(
        self,
        actor: Actor,
        text: str = "",
        *,
        status: str | None = None,
        role: str | None = None,
        page: int = 1,
        per_page: int = 10,
    ) -> Page[Account]:
        """Accounts of the actor's centre whose name or email contains
        ``text`` (any case), filtered by status and role, one page."""
        if status is not None and status not in STATUS_FILTERS:
            raise Invalid(f"Status must be one of {', '.join(STATUS_FILTERS)}.")
        if role is not None and role not in ROLE_FILTERS:
            raise Invalid(f"Role must be one of {', '.join(ROLE_FILTERS)}.")
        with self.store.transaction() as tx:
            acting = self.acting_account(tx, actor)
            if acting is None:
                raise Invalid("The operator uses the command line, not the chat.")
            if acting.role is Role.TEACHER:
                raise NotAllowed("Teachers can only see their own account; try 'me'.")
            centre_id = acting.centre_id
        docs = paginate(self._filtered_docs(centre_id, text, status, role), page, per_page)
        return Page([Account.from_doc(d) for d in docs.items], docs.total, docs.page, docs.pages)

    def filter_accounts(
        self, centre_id: str, text: str = "", status: str | None = None, role: str | None = None
    ) -> list[Account]:
        return [Account.from_doc(d) for d in self._filtered_docs(centre_id, text, status, role)]

    def _filtered_docs(
        self, centre_id: str, text: str, status: str | None, role: str | None
    ) -> list[dict[str, Any]]:
        """The matching documents in name order. Filtered before any becomes
        an :class:`Account`: a search answers within a message's time budget."""
        needle = fold(text.strip())
        found = []
        for doc in self.store.lookup(ACCOUNTS, "centre_id", centre_id):
            if needle and needle not in fold(doc["name"]) and needle not in fold(doc["email"]):
                continue
            if status == "pending" and not doc.get("invitation_pending"):
                continue
            if status in ("active", "suspended") and doc["status"] != status:
                continue
            if role and doc["role"] != role:
                continue
            found.append(doc)
        return sorted(found, key=lambda d: (fold(d["name"]), d["email"]))

    def audit_log(self, actor: Actor, *, page: int = 1, per_page: int = 10) -> Page[AuditEntry]:
        with self.store.transaction() as tx:
            acting = self.require(tx, actor, Action.AUDIT)
            if acting is None:
                raise Invalid("The operator reads the audit log from the store.")
            centre_id = acting.centre_id
        docs = self.store.lookup(AUDIT, "centre_id", centre_id)
        docs.reverse()  # newest first: keys start with the time
        return paginate([AuditEntry.from_doc(d) for d in docs], page, per_page)

    def counts(self, centre_id: str, remind_after_days: int = 7) -> dict[str, int]:
        """Active, suspended, pending deletion, invitations pending."""
        cutoff = self.now() - timedelta(days=remind_after_days)
        accounts = self.centre_accounts(centre_id)
        return {
            "active": sum(a.status is Status.ACTIVE for a in accounts),
            "suspended": sum(a.status is Status.SUSPENDED for a in accounts),
            "pending_deletion": sum(
                a.status is Status.SUSPENDED
                and a.suspended_at is not None
                and a.suspended_at <= cutoff
                for a in accounts
            ),
            "invitations_pending": sum(a.invitation_pending for a in accounts),
        }
