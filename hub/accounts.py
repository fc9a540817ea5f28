"""Changing accounts: add (one or many), edit, admin rights, suspend, restore,
delete, snooze, and password reset or invitation resend (SPEC rules 1-10)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hub import email_templates, tokens
from hub.core import HubCore, data_held_in, public_fields
from hub.errors import Conflict, DataHeld, HubError, Invalid, NotAllowed
from hub.model import Account, Actor, Role, Status
from hub.permissions import Action, allowed
from hub.schema import ACCOUNTS, CENTRES, LINKS
from hub.sites import normalise_sites, site_name
from hub.tokens import TokenKind
from hub.validation import check_email, check_name, email_key
from storage import Transaction

# Reset emails per account per hour: stops the bot being used to flood an inbox.
MAX_RESETS_PER_HOUR = 5


@dataclass(frozen=True)
class NewAccount:
    """One account to add, as typed (checked again when created)."""

    name: str
    email: str
    admin: bool = False
    sites: tuple[str, ...] = ()
    # A problem found while reading the row from a file (an unreadable admin
    # cell, say): shown in the preview with the others, and the row refused.
    read_problem: str | None = None


@dataclass
class AddOutcome:
    created: list[Account] = field(default_factory=list)
    refused: list[tuple[NewAccount, str]] = field(default_factory=list)


@dataclass(frozen=True)
class CheckedRow:
    """A row of a bulk add after checking: an account to create, or problems."""

    line: int
    draft: NewAccount
    # Each problem under the field it is about ("read", "name", "email",
    # "sites", "admin"), for a form that shows it beside that field.
    by_field: Mapping[str, str]

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(self.by_field.values())

    @property
    def ok(self) -> bool:
        return not self.by_field


class AccountChanges(HubCore):
    # ------------------------------------------------------------- checking
    def check_new_email(self, actor: Actor, raw: str, *, except_id: str | None = None) -> str:
        """A typed address, checked at once: syntax, then unused hub-wide.
        Only for those who may add or edit accounts: the answer tells whether
        an address is taken."""
        email = check_email(raw)
        with self.store.transaction() as tx:
            self.require(tx, actor, Action.EDIT if except_id else Action.ADD)
            self._check_unused(tx, email, except_id)
        return email

    def _check_unused(self, tx: Transaction, email: str, except_id: str | None = None) -> None:
        holders = [d for d in tx.lookup(ACCOUNTS, "email_key", email_key(email))]
        if any(d["_key"] != except_id for d in holders):
            # Same words whether the holder is in this centre or another.
            raise Conflict(f"{email} is already used by another hub account; each needs its own.")

    def check_rows(
        self, actor: Actor, rows: list[NewAccount], *, centre_id: str | None = None
    ) -> list[CheckedRow]:
        """Every row's problems at once, including duplicates inside the batch,
        without changing anything (SPEC rule 4: preview first)."""
        with self.store.transaction() as tx:
            acting = self.require(tx, actor, Action.ADD)
            return self._check_rows(tx, acting, rows)

    def _check_rows(
        self, tx: Transaction, acting: Account | None, rows: list[NewAccount]
    ) -> list[CheckedRow]:
        seen: dict[str, int] = {}
        checked: list[CheckedRow] = []
        for line, row in enumerate(rows, start=1):
            problems: dict[str, str] = {"read": row.read_problem} if row.read_problem else {}
            name, email, sites = row.name, row.email, row.sites
            try:
                name = check_name(row.name)
            except Invalid as exc:
                problems["name"] = exc.message
            try:
                email = check_email(row.email)
                key = email_key(email)
                if key in seen:
                    problems["email"] = (
                        f"{email} appears twice in this list (first on row {seen[key]})."
                    )
                else:
                    seen[key] = line
                    self._check_unused(tx, email)
            except HubError as exc:
                problems["email"] = exc.message
            try:
                sites = tuple(normalise_sites(row.sites))
            except Invalid as exc:
                problems["sites"] = exc.message
            if row.admin and acting is not None and not allowed(acting, Action.GRANT_ADMIN):
                problems["admin"] = "Only the coordinator can give admin rights."
            checked.append(CheckedRow(line, NewAccount(name, email, row.admin, sites), problems))
        return checked

    # ------------------------------------------------------------------ add
    def add_accounts(
        self, actor: Actor, drafts: list[NewAccount], *, centre_id: str | None = None
    ) -> AddOutcome:
        """Create every valid draft in one atomic change and invite each.

        Drafts are checked again here (an address may have been taken since
        the preview); a bad one is reported and never stops the good ones.
        """
        outcome = AddOutcome()
        with self.store.transaction() as tx:
            acting = self.require(tx, actor, Action.ADD)
            centre = acting.centre_id if acting else centre_id
            centre_doc = tx.get(CENTRES, centre or "")
            if centre_doc is None:
                raise Invalid(f"There is no centre {centre}.")
            for row in self._check_rows(tx, acting, drafts):
                if not row.ok:
                    outcome.refused.append((row.draft, " ".join(row.problems)))
                    continue
                account = self._create(tx, actor, acting, centre_doc, row.draft)
                outcome.created.append(account)
        return outcome

    def _create(
        self,
        tx: Transaction,
        actor: Actor,
        acting: Account | None,
        centre_doc: dict[str, Any],
        draft: NewAccount,
        role: Role | None = None,
    ) -> Account:
        now = self.now()
        account_id = f"acc_{secrets.token_hex(6)}"
        doc = {
            "centre_id": centre_doc["_key"],
            "name": draft.name,
            "email": draft.email,
            "email_key": email_key(draft.email),
            "role": (role or (Role.ADMIN if draft.admin else Role.TEACHER)).value,
            "status": Status.ACTIVE.value,
            "sites": list(draft.sites) or normalise_sites(()),
            "invitation_pending": True,
            "created_at": now.isoformat(),
            "suspended_at": None,
            "snoozed_until": None,
            "password_hash": None,
        }
        tx.put(ACCOUNTS, account_id, doc)
        doc["_key"] = account_id
        self.audit(
            tx, actor, acting, "add", doc["centre_id"], draft.email, None, public_fields(doc)
        )
        self._invite(tx, doc, centre_doc["name"])
        return Account.from_doc(doc)

    def _invite(self, tx: Transaction, doc: dict[str, Any], centre_name: str) -> None:
        raw = tokens.issue(tx, doc["_key"], TokenKind.INVITATION, self.now())
        content = email_templates.invitation(
            doc["name"], centre_name, self.link("set-password", raw)
        )
        self.send_email(tx, doc["email"], doc["name"], "invitation", content)

    # ----------------------------------------------------------------- edit
    def edit_account(
        self,
        actor: Actor,
        account_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        sites: list[str] | tuple[str, ...] | None = None,
    ) -> tuple[Account, list[str]]:
        """Change name, email and/or sites. Returns the account and what was
        emailed: a changed address of an invited account gets a new invitation."""
        emailed: list[str] = []
        with self.store.transaction() as tx:
            acting = self.acting_account(tx, actor)
            doc = self.target_doc(tx, acting, account_id)
            self.require(tx, actor, Action.EDIT, Account.from_doc(doc))
            before = public_fields(doc)
            if name is not None:
                doc["name"] = check_name(name)
            if sites is not None:
                doc["sites"] = normalise_sites(sites)
            if email is not None:
                new_email = check_email(email)
                if email_key(new_email) != doc["email_key"]:
                    self._check_unused(tx, new_email, except_id=account_id)
                doc["email"], doc["email_key"] = new_email, email_key(new_email)
            if public_fields(doc) == before:
                raise Conflict("Nothing to change: the account already has those details.")
            tx.put(ACCOUNTS, account_id, doc)
            self.audit(
                tx,
                actor,
                acting,
                "edit",
                doc["centre_id"],
                doc["email"],
                before,
                public_fields(doc),
            )
            if before and before["email"] != doc["email"] and doc.get("invitation_pending"):
                centre = tx.get(CENTRES, doc["centre_id"]) or {"name": doc["centre_id"]}
                self._invite(tx, doc, centre["name"])
                emailed.append(f"a new invitation to {doc['email']}")
            return Account.from_doc(doc), emailed

    # ------------------------------------------------ one account, one change
    def _change_one(
        self,
        actor: Actor,
        account_id: str,
        action: Action,
        audit_as: str,
        change: Callable[[Account, dict[str, Any]], None],
    ) -> Account:
        """The shape every single-account change shares: re-read actor and
        target in the transaction, check the permission, let ``change`` check
        the state (raising :class:`Conflict`) and edit the document, then
        store it with its audit entry."""
        with self.store.transaction() as tx:
            acting = self.acting_account(tx, actor)
            doc = self.target_doc(tx, acting, account_id)
            target = Account.from_doc(doc)
            self.require(tx, actor, action, target)
            before = public_fields(doc)
            change(target, doc)
            tx.put(ACCOUNTS, account_id, doc)
            self.audit(
                tx,
                actor,
                acting,
                audit_as,
                doc["centre_id"],
                doc["email"],
                before,
                public_fields(doc),
            )
            return Account.from_doc(doc)

    # ---------------------------------------------------------- admin rights
    def set_admin(self, actor: Actor, account_id: str, admin: bool) -> Account:
        def change(target: Account, doc: dict[str, Any]) -> None:
            if admin and target.role is not Role.TEACHER:
                raise Conflict(f"{target.name} already has admin rights.")
            if not admin and target.role is not Role.ADMIN:
                raise Conflict(f"{target.name} has no admin rights to remove.")
            doc["role"] = (Role.ADMIN if admin else Role.TEACHER).value

        action = Action.GRANT_ADMIN if admin else Action.REMOVE_ADMIN
        return self._change_one(actor, account_id, action, action.value, change)

    # ---------------------------------------------------- suspend and restore
    def suspend(self, actor: Actor, account_id: str) -> Account:
        def change(target: Account, doc: dict[str, Any]) -> None:
            if not target.active:
                raise Conflict(f"{target.name} is already suspended.")
            doc.update(
                status=Status.SUSPENDED.value,
                suspended_at=self.now().isoformat(),
                snoozed_until=None,
            )

        return self._change_one(actor, account_id, Action.SUSPEND, "suspend", change)

    def restore(self, actor: Actor, account_id: str) -> Account:
        def change(target: Account, doc: dict[str, Any]) -> None:
            if target.active:
                raise Conflict(f"{target.name} is not suspended; nothing to restore.")
            doc.update(status=Status.ACTIVE.value, suspended_at=None, snoozed_until=None)

        return self._change_one(actor, account_id, Action.RESTORE, "restore", change)

    def snooze(self, actor: Actor, account_id: str, days: int = 7) -> Account:
        """Hide a suspended account from the reminder digests for ``days``."""

        def change(target: Account, doc: dict[str, Any]) -> None:
            if target.active:
                raise Conflict(f"{target.name} is not suspended; there is nothing to snooze.")
            doc["snoozed_until"] = (self.now() + timedelta(days=days)).isoformat()

        return self._change_one(actor, account_id, Action.SUSPEND, "snooze", change)

    # --------------------------------------------------------------- delete
    def delete(self, actor: Actor, account_id: str) -> Account:
        with self.store.transaction() as tx:
            acting = self.acting_account(tx, actor)
            doc = self.target_doc(tx, acting, account_id)
            target = Account.from_doc(doc)
            self.require(tx, actor, Action.DELETE, target)
            if target.active:
                raise Conflict(
                    f"Only a suspended account can be deleted; suspend {target.name} first."
                )
            held = data_held_in(tx, account_id)
            if held.total:
                raise DataHeld(
                    f"{target.name} still owns Progression Test data ({held.text()}); "
                    "transfer it to another account before deleting.",
                    dict(held.counts),
                )
            tx.delete(ACCOUNTS, account_id)
            tokens.revoke(tx, account_id, self.now())
            for link in tx.lookup(LINKS, "account_id", account_id):
                tx.delete(LINKS, link["_key"])
            self.audit(
                tx,
                actor,
                acting,
                "delete",
                doc["centre_id"],
                doc["email"],
                public_fields(doc),
                None,
            )
            return target

    # ---------------------------------------------------------------- reset
    def reset_password(self, actor: Actor, account_id: str) -> str:
        """Email a reset link, or resend the invitation while it is pending.

        Returns the sentence saying what was emailed to whom.
        """
        with self.store.transaction() as tx:
            acting = self.acting_account(tx, actor)
            doc = self.target_doc(tx, acting, account_id)
            target = Account.from_doc(doc)
            self.require(tx, actor, Action.RESET, target)
            if not target.active:
                raise Conflict(
                    f"{target.name} is suspended; restore the account before resetting its "
                    "password."
                )
            now = self.now()
            kind = TokenKind.INVITATION if target.invitation_pending else TokenKind.RESET
            if tokens.issued_since(tx, account_id, kind, now - timedelta(hours=1)) >= (
                MAX_RESETS_PER_HOUR
            ):
                raise NotAllowed(
                    f"{MAX_RESETS_PER_HOUR} emails were already sent to {target.email} in the "
                    "last hour; please wait before asking again."
                )
            if kind is TokenKind.INVITATION:
                centre = tx.get(CENTRES, doc["centre_id"]) or {"name": doc["centre_id"]}
                self._invite(tx, doc, centre["name"])
                said = (
                    f"The invitation was sent again to {target.email}; "
                    "the old link no longer works."
                )
            else:
                raw = tokens.issue(tx, account_id, TokenKind.RESET, now)
                content = email_templates.password_reset(
                    target.name, self.link("set-password", raw)
                )
                self.send_email(tx, target.email, target.name, "password reset", content)
                said = f"A password reset link (valid for 1 hour) was emailed to {target.email}."
            self.audit(
                tx,
                actor,
                acting,
                f"resend {kind.value}" if target.invitation_pending else "reset password",
                doc["centre_id"],
                doc["email"],
            )
            return said

    @staticmethod
    def describe_sites(codes: tuple[str, ...] | list[str]) -> str:
        return ", ".join(site_name(c) for c in codes)
