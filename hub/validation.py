"""Checking what people type: names and email addresses (SPEC rule 1).

Email syntax is checked by the email-validator library, never a regex, and its
reason is passed on. Uniqueness compares a key made after normalisation (NFC
by the library, then NFKC and case folding), so ``Jane@School.org`` and
``jane@school.org`` are one address.
"""

from __future__ import annotations

import functools
import unicodedata

from email_validator import EmailNotValidError, validate_email

from hub.errors import Invalid

MAX_NAME = 100
MAX_EMAIL = 254


def check_email(raw: str) -> str:
    """The address as it should be stored and shown, or :class:`Invalid`."""
    text = (raw or "").strip()
    if not text:
        raise Invalid("Please give an email address.")
    if len(text) > MAX_EMAIL:
        raise Invalid(f"That email address is too long (at most {MAX_EMAIL} characters).")
    if any(unicodedata.category(ch)[0] == "C" for ch in text):
        raise Invalid("That email address contains a control character.")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(f"That is not a valid email address: {exc}") from None
    return result.normalized


def email_key(email: str) -> str:
    """The uniqueness key of an already checked address."""
    return fold(email)


def fold(text: str) -> str:
    """Text as compared when searching and sorting: any case, any form."""
    return unicodedata.normalize("NFKC", text).casefold()


def lookup_key(raw: str) -> str | None:
    """The key for finding an account by a typed address, or None if the text
    cannot be an address at all (so lookups never raise)."""
    if len((raw or "").strip()) > MAX_EMAIL:
        return None  # check_email refuses it; never fill the cache with essays
    return _lookup_key(raw or "")


@functools.lru_cache(maxsize=4096)
def _lookup_key(raw: str) -> str | None:
    # Remembered: the email library's checks cost more than the rest of a
    # typical message's work, and the same addresses come back all day.
    try:
        return email_key(check_email(raw))
    except Invalid:
        return None


# Bidirectional overrides can make a name display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _forbidden_in_name(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") or ch in _BIDI_CONTROLS


def check_name(raw: str) -> str:
    """A person's name: trimmed, single-spaced, printable, 1-100 characters."""
    text = " ".join((raw or "").split())
    if not text:
        raise Invalid("Please give the person's name.")
    if any(_forbidden_in_name(ch) for ch in (raw or "").strip()):
        raise Invalid("A name cannot contain control characters or line breaks.")
    if len(text) > MAX_NAME:
        raise Invalid(f"That name is too long (at most {MAX_NAME} characters).")
    return text
