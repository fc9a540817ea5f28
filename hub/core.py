"""What every part of the hub shares: the store, the clock, who is acting,
finding an account within the actor's centre, the audit log and the outbox.

Every change is one store transaction that re-reads the actor and the target,
checks the permission table and the rules, writes the documents, an audit
entry and any email together: all of it is durable or none of it is.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hub.errors import NotAllowed, NotFound
from hub.model import Account, Actor, Centre, DataHeldSummary
from hub.outbox import EmailContent, enqueue
from hub.permissions import Action, refusal
from hub.schema import ACCOUNTS, AUDIT, CENTRES, DATA
from hub.sites import DATA_SITES
from hub.validation import fold, lookup_key
from storage import Store, Transaction

_AUDIT_ORDER = itertools.count()
NO_SUCH_ACCOUNT = "There is no account with that email address in your centre."
# Fields of an account that the audit log records (never the password hash).
AUDITED_FIELDS = (
    "name",
    "email",
    "role",
    "status",
    "sites",
    "invitation_pending",
    "suspended_at",
    "snoozed_until",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def data_held_in(reader: Store | Transaction, account_id: str) -> DataHeldSummary:
    """How much Progression Test data an account owns per site, in the hub's
    site order; ``reader`` is the store, or a transaction to see its writes."""
    counts = dict.fromkeys(DATA_SITES, 0)
    for item in reader.lookup(DATA, "owner_id", account_id):
        counts[item["site"]] = counts.get(item["site"], 0) + 1
    return DataHeldSummary({site: n for site, n in counts.items() if n})


def public_fields(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {f: doc.get(f) for f in AUDITED_FIELDS}


def accounts_with_email(reader: Store | Transaction, email: str) -> list[dict[str, Any]]:
    """The account holding a typed address (a list of at most one).

    An ASCII address found in the index as typed, in any case, needs no trip
    through the email library (about 60 µs): an address is valid in every
    case if it is in one, and the key of an ASCII address is its lower case.
    Anything else is normalised by the library first, as before.
    """
    text = (email or "").strip()
    if text and text.isascii():
        docs = reader.lookup(ACCOUNTS, "email_key", text.lower())
        if docs:
            return docs
    key = lookup_key(email)
    return reader.lookup(ACCOUNTS, "email_key", key) if key else []


class HubCore:
    """The shared machinery; :class:`hub.Hub` adds the operations."""

    def __init__(
        self,
        store: Store,
        *,
        public_url: str = "http://localhost:3000",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.public_url = public_url.rstrip("/")
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    # ---------------------------------------------------------------- reading
    def account(self, account_id: str) -> Account | None:
        doc = self.store.get(ACCOUNTS, account_id)
        return Account.from_doc(doc) if doc else None

    def account_by_email(self, email: str) -> Account | None:
        """Any centre: for identifying a chat user, never shown to a stranger."""
        docs = accounts_with_email(self.store, email)
        return Account.from_doc(docs[0]) if docs else None

    def data_held(self, account_id: str) -> DataHeldSummary:
        return data_held_in(self.store, account_id)

    def centre_accounts(self, centre_id: str) -> list[Account]:
        """A centre's accounts, by name."""
        docs = self.store.lookup(ACCOUNTS, "centre_id", centre_id)
        return sorted((Account.from_doc(d) for d in docs), key=lambda a: (fold(a.name), a.email))

    def centre(self, centre_id: str) -> Centre | None:
        doc = self.store.get(CENTRES, centre_id)
        return Centre.from_doc(doc) if doc else None

    def centre_ids(self) -> list[str]:
        return sorted(d["_key"] for d in self.store.scan(CENTRES))

    # --------------------------------------------------------------- actors
    def acting_account(self, tx: Transaction, actor: Actor) -> Account | None:
        """The actor's account as it is now (None for the operator).

        Read inside the change's transaction, so a coordinator suspended a
        moment ago can no longer act, whatever their chat still shows.
        """
        if actor.is_operator:
            return None
        doc = tx.get(ACCOUNTS, actor.account_id or "")
        if doc is None:
            raise NotAllowed("Your hub account no longer exists, so the bot can't act for you.")
        account = Account.from_doc(doc)
        if not account.active:
            raise NotAllowed("Your hub account is suspended, so the bot can't act for you.")
        return account

    def require(
        self, tx: Transaction, actor: Actor, action: Action, target: Account | None = None
    ) -> Account | None:
        """The acting account, or :class:`NotAllowed` with the reason."""
        acting = self.acting_account(tx, actor)
        if acting is None:
            return None
        self.check(acting, action, target)
        return acting

    @staticmethod
    def check(acting: Account, action: Action, target: Account | None = None) -> None:
        """:meth:`require` for an acting account already read in this change."""
        reason = refusal(acting, action, target)
        if reason:
            if reason == NO_SUCH_ACCOUNT:
                raise NotFound(reason)
            raise NotAllowed(reason)

    def may(self, actor: Actor, action: Action, target: Account | None = None) -> str | None:
        """Why not, or None: for menus and cards, without raising."""
        with self.store.transaction() as tx:
            try:
                self.require(tx, actor, action, target)
            except (NotAllowed, NotFound) as exc:
                return exc.message
        return None

    def target_doc(
        self, tx: Transaction, acting: Account | None, account_id: str, centre_id: str | None = None
    ) -> dict[str, Any]:
        """An account of the actor's centre (or of ``centre_id`` for the
        operator); any other is "not found", never "belongs elsewhere"."""
        doc = tx.get(ACCOUNTS, account_id)
        centre = acting.centre_id if acting else centre_id
        if doc is None or (centre is not None and doc["centre_id"] != centre):
            raise NotFound(NO_SUCH_ACCOUNT)
        return doc

    def find_in_centre(self, tx: Transaction, centre_id: str, email: str) -> dict[str, Any]:
        docs = accounts_with_email(tx, email)
        if not docs or docs[0]["centre_id"] != centre_id:
            raise NotFound(NO_SUCH_ACCOUNT)
        return docs[0]

    # ------------------------------------------------------- audit and email
    def audit(
        self,
        tx: Transaction,
        actor: Actor,
        acting: Account | None,
        action: str,
        centre_id: str,
        target: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        now = self.now()
        tx.put(
            AUDIT,
            # Time, then this process's count: entries made in one instant
            # (a bulk add, a clock frozen in a test) still list in order.
            f"{now:%Y%m%dT%H%M%S%f}-{next(_AUDIT_ORDER) % 10**12:012d}-{secrets.token_hex(4)}",
            {
                "time": now.isoformat(),
                "centre_id": centre_id,
                "actor": acting.email if acting else "operator",
                "actor_id": acting.account_id if acting else None,
                "via": actor.via,
                "action": action,
                "target": target,
                "before": before,
                "after": after,
            },
        )

    def send_email(
        self, tx: Transaction, to_email: str, to_name: str, kind: str, content: EmailContent
    ) -> None:
        enqueue(tx, self.now(), to_email=to_email, to_name=to_name, kind=kind, content=content)

    def link(self, path: str, token: str) -> str:
        """Links are built from HUB_PUBLIC_URL only, never from a request."""
        return f"{self.public_url}/{path}?token={token}"
