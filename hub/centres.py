"""The operator's work: creating centres and handing over the coordinator role."""

from __future__ import annotations

import re
from typing import Any

from hub.accounts import AccountChanges, NewAccount
from hub.core import public_fields
from hub.errors import Conflict, Invalid, NotFound
from hub.model import Account, Actor, Centre, Role
from hub.schema import ACCOUNTS, CENTRES
from hub.sites import normalise_sites
from hub.validation import check_email, check_name
from storage import Transaction

_CENTRE_ID = re.compile(r"[A-Z0-9][A-Z0-9-]{1,19}")


class Centres(AccountChanges):
    def create_centre(
        self, centre_id: str, name: str, coordinator_name: str, coordinator_email: str
    ) -> tuple[Centre, Account]:
        """A centre and its coordinator, invited by email, in one change."""
        centre_id = centre_id.strip().upper()
        if not _CENTRE_ID.fullmatch(centre_id):
            raise Invalid("A centre id is 2-20 letters, digits or dashes, like GB123.")
        centre_name = check_name(name)
        draft = NewAccount(
            check_name(coordinator_name),
            check_email(coordinator_email),
            True,
            tuple(normalise_sites(["primary", "lower-secondary"])),
        )
        actor = Actor.operator()
        with self.store.transaction() as tx:
            if tx.get(CENTRES, centre_id) is not None:
                raise Conflict(f"Centre {centre_id} already exists.")
            self._check_unused(tx, draft.email)
            centre_doc = {"_key": centre_id, "name": centre_name, "coordinator_id": None}
            tx.put(CENTRES, centre_id, centre_doc)
            self.audit(
                tx, actor, None, "create centre", centre_id, centre_id, None, {"name": centre_name}
            )
            coordinator = self._create(tx, actor, None, centre_doc, draft, Role.COORDINATOR)
            centre_doc["coordinator_id"] = coordinator.account_id
            tx.put(CENTRES, centre_id, centre_doc)
        return Centre.from_doc(centre_doc), coordinator

    def hand_over_coordinator(self, centre_id: str, email: str) -> tuple[Account, Account | None]:
        """Make another active account of the centre its coordinator; the old
        coordinator keeps admin rights. Returns (new, old)."""
        with self.store.transaction() as tx:
            centre_doc = tx.get(CENTRES, centre_id.strip().upper())
            if centre_doc is None:
                raise NotFound(f"There is no centre {centre_id}.")
            doc = self.find_in_centre(tx, centre_doc["_key"], email)
            new = Account.from_doc(doc)
            if new.role is Role.COORDINATOR:
                raise Conflict(f"{new.name} is already the coordinator of {centre_doc['_key']}.")
            if not new.active:
                raise Conflict(f"{new.name} is suspended; only an active account can coordinate.")
            old = None
            old_doc = tx.get(ACCOUNTS, centre_doc.get("coordinator_id") or "")
            if old_doc is not None:  # keeps admin rights
                old = self._hand_role(tx, centre_doc["_key"], old_doc, Role.ADMIN)
            new = self._hand_role(tx, centre_doc["_key"], doc, Role.COORDINATOR)
            centre_doc["coordinator_id"] = doc["_key"]
            tx.put(CENTRES, centre_doc["_key"], centre_doc)
            return new, old

    def _hand_role(
        self, tx: Transaction, centre_id: str, doc: dict[str, Any], role: Role
    ) -> Account:
        before = public_fields(doc)
        doc["role"] = role.value
        tx.put(ACCOUNTS, doc["_key"], doc)
        self.audit(
            tx,
            Actor.operator(),
            None,
            "coordinator handed over",
            centre_id,
            doc["email"],
            before,
            public_fields(doc),
        )
        return Account.from_doc(doc)
