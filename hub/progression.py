"""Progression Test data: who owns what, and moving it (SPEC rules 6 and 7)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from hub.core import HubCore
from hub.errors import Conflict, Invalid
from hub.model import Account, Actor, DataItem
from hub.permissions import Action
from hub.schema import ACCOUNTS, CENTRES, DATA
from hub.sites import DATA_SITES, site_name
from hub.validation import lookup_key


@dataclass(frozen=True)
class DataRow:
    """A Progression Test record as read from a file, before checking."""

    owner_email: str
    site: str
    title: str
    class_name: str = ""
    date: str = ""
    results: str = "0"


class Progression(HubCore):
    def data_items(self, account_id: str) -> list[DataItem]:
        return [DataItem.from_doc(d) for d in self.store.lookup(DATA, "owner_id", account_id)]

    def transfer_targets(self, actor: Actor, from_id: str, site: str) -> list[Account]:
        """Accounts that may receive the data: active, same centre, with
        access to the site, not the owner (rule 7). Only for those who may
        transfer the owner's data."""
        with self.store.transaction() as tx:
            acting = self.acting_account(tx, actor)
            source = Account.from_doc(self.target_doc(tx, acting, from_id))
            self.require(tx, actor, Action.TRANSFER, source)
        return [
            a
            for a in self.centre_accounts(source.centre_id)
            if a.active and site in a.sites and a.account_id != from_id
        ]

    def transfer(self, actor: Actor, from_id: str, site: str, to_id: str) -> int:
        """Move every item ``from_id`` owns on ``site`` to ``to_id``; returns
        how many moved. One transaction: all move or none do."""
        if site not in DATA_SITES:
            raise Invalid(
                f"Progression Test data is held on {' or '.join(DATA_SITES)}, not {site!r}."
            )
        with self.store.transaction() as tx:
            acting = self.acting_account(tx, actor)
            source = Account.from_doc(self.target_doc(tx, acting, from_id))
            self.require(tx, actor, Action.TRANSFER, source)
            target = Account.from_doc(self.target_doc(tx, acting, to_id))
            self.require(tx, actor, Action.TRANSFER, target)
            if target.account_id == source.account_id:
                raise Conflict("Choose another account: the data already belongs to this one.")
            if not target.active:
                raise Conflict(
                    f"{target.name} is suspended; data can only go to an active account."
                )
            if target.centre_id != source.centre_id:
                raise Conflict("Data can only move to an account of the same centre.")
            if site not in target.sites:
                raise Conflict(
                    f"{target.name} has no access to the {site_name(site)}; give them access "
                    "first or choose someone else."
                )
            items = [d for d in tx.lookup(DATA, "owner_id", from_id) if d["site"] == site]
            if not items:
                raise Conflict(
                    f"{source.name} holds no Progression Test data on the {site_name(site)}."
                )
            for item in items:
                item["owner_id"] = to_id
                tx.put(DATA, item["_key"], item)
            self.audit(
                tx,
                actor,
                acting,
                "transfer",
                source.centre_id,
                source.email,
                {"owner": source.email, "site": site, "items": len(items)},
                {"owner": target.email, "site": site, "items": len(items)},
            )
            return len(items)

    # -------------------------------------------------- operator: files of data
    def import_data(self, centre_id: str, rows: list[DataRow]) -> list[tuple[int, str]]:
        """Add Progression Test records; returns (row, problem) for refused rows.
        Valid rows are stored in one transaction whatever the others hold."""
        problems: list[tuple[int, str]] = []
        actor = Actor.operator()
        with self.store.transaction() as tx:
            if tx.get(CENTRES, centre_id) is None:
                raise Invalid(f"There is no centre {centre_id}.")
            for line, row in enumerate(rows, start=1):
                key = lookup_key(row.owner_email)
                owners = tx.lookup(ACCOUNTS, "email_key", key) if key else []
                owner = owners[0] if owners and owners[0]["centre_id"] == centre_id else None
                site = row.site.strip().lower()
                try:
                    results = int(row.results or 0)
                except ValueError:
                    results = -1
                reason = (
                    f"no account {row.owner_email!r} in centre {centre_id}"
                    if owner is None
                    else f"site must be {' or '.join(DATA_SITES)}"
                    if site not in DATA_SITES
                    else "the title is empty"
                    if not row.title.strip()
                    else "results must be a whole number, 0 or more"
                    if results < 0
                    else None
                )
                if reason:
                    problems.append((line, reason))
                    continue
                assert owner is not None
                tx.put(
                    DATA,
                    f"ptd_{secrets.token_hex(6)}",
                    {
                        "centre_id": centre_id,
                        "owner_id": owner["_key"],
                        "site": site,
                        "title": row.title.strip(),
                        "class_name": row.class_name.strip(),
                        "date": row.date.strip(),
                        "results": results,
                    },
                )
            imported = len(rows) - len(problems)
            if imported:
                self.audit(
                    tx,
                    actor,
                    None,
                    "import data",
                    centre_id,
                    f"{imported} records",
                    None,
                    {"records": imported},
                )
        return problems

    def centre_data(self, centre_id: str) -> list[tuple[DataItem, str]]:
        """Every record of a centre with its owner's email, for export."""
        owners = {
            d["_key"]: d["email"] for d in self.store.lookup(ACCOUNTS, "centre_id", centre_id)
        }
        items = [DataItem.from_doc(d) for d in self.store.lookup(DATA, "centre_id", centre_id)]
        return [(i, owners.get(i.owner_id, "")) for i in sorted(items, key=lambda i: i.item_id)]
