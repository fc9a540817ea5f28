"""Setting a password from an emailed link (SPEC "Set-password page").

Passwords are stored as argon2id hashes. A link is single use and checked
again when the form comes back; unknown, used and expired links all get the
same answer so that the page tells an attacker nothing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

from argon2 import PasswordHasher

from hub import tokens
from hub.core import HubCore, public_fields
from hub.errors import Invalid, LinkInvalid
from hub.model import Account, Actor
from hub.schema import ACCOUNTS, CENTRES, TOKENS

MIN_LENGTH = 12
MAX_LENGTH = 256
LINK_INVALID = (
    "This link can't be used: it has expired, was already used, or is not complete. "
    "Ask your centre's coordinator to send you a new one."
)
_hasher = PasswordHasher()  # argon2id with the library's current parameters


@dataclass(frozen=True)
class LinkInfo:
    account_name: str
    centre_name: str
    kind: str  # "invitation" or "reset"
    email: str = ""  # shown on the page and given to password managers


class PasswordRefused(Invalid):
    """The new password breaks the policy; ``problems`` lists every reason,
    one sentence each, so a page can show them as a list."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = list(problems)


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("hub").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def password_problems(password: str, account: Account) -> list[str]:
    """Every way the password breaks the policy, in words for the page."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    squashed = _squash(password)
    if password.casefold() in common_passwords() or squashed in common_passwords():
        problems.append("That password is too common; choose one that is harder to guess.")
    personal = [_squash(account.email), _squash(account.email.split("@")[0]), _squash(account.name)]
    personal += [_squash(part) for part in account.name.split() if len(part) >= 4]
    if any(p and len(p) >= 4 and p in squashed for p in personal):
        problems.append("Don't use your name or email address in your password.")
    return problems


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except Exception:  # argon2 raises several kinds for a mismatch
        return False


class Passwords(HubCore):
    def _usable_token(self, tx, raw: str) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
        doc = tx.get(TOKENS, tokens.digest(raw or ""))
        if not tokens.usable(doc, self.now()):
            raise LinkInvalid(LINK_INVALID)
        account_doc = tx.get(ACCOUNTS, doc["account_id"])
        if account_doc is None or account_doc["status"] != "active":
            raise LinkInvalid(LINK_INVALID)
        return doc, account_doc

    def check_link(self, raw: str) -> LinkInfo:
        with self.store.transaction() as tx:
            doc, account_doc = self._usable_token(tx, raw)
            centre = tx.get(CENTRES, account_doc["centre_id"]) or {"name": ""}
            return LinkInfo(account_doc["name"], centre["name"], doc["kind"], account_doc["email"])

    def set_password(self, raw: str, password: str) -> Account:
        """Store the new password's hash and use the link up, or raise
        :class:`LinkInvalid` / :class:`PasswordRefused` (an :class:`Invalid`)
        with every policy problem."""
        with self.store.transaction() as tx:
            _, account_doc = self._usable_token(tx, raw)
            problems = password_problems(password, Account.from_doc(account_doc))
        if problems:
            raise PasswordRefused(problems)
        # argon2 takes tens of milliseconds: hash outside the store's lock,
        # then check the link again in the transaction that uses it up.
        password_hash = hash_password(password)
        with self.store.transaction() as tx:
            doc, account_doc = self._usable_token(tx, raw)
            account = Account.from_doc(account_doc)
            before = public_fields(account_doc)
            account_doc["password_hash"] = password_hash
            account_doc["invitation_pending"] = False
            tx.put(ACCOUNTS, account.account_id, account_doc)
            tokens.revoke(tx, account.account_id, self.now())
            doc["used_at"] = self.now().isoformat()
            tx.put(TOKENS, doc["_key"], doc)
            self.audit(
                tx,
                Actor(account.account_id, "set-password page"),
                account,
                "set password" if doc["kind"] == "reset" else "accept invitation",
                account.centre_id,
                account.email,
                before,
                public_fields(account_doc),
            )
            return Account.from_doc(account_doc)
