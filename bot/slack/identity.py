"""Who a Slack user is in the hub: the account whose address is the email on
their Slack profile (``users.info``, which needs ``users:read.email``).

Profiles are cached for five minutes (an address changed in Slack is seen
within that time); the account is looked up afresh on every request (by
:meth:`bot.slack.core.SlackCore.who`, where the store is), so a suspended
or deleted account stops working at once. Nobody without an active account
gets anything but a short explanation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from hub import Account

PROFILE_TTL = 300.0

NOT_A_HUB_USER = (
    "Sorry, I can't help you here: no active School Support Hub account uses the email "
    "address on your Slack profile. If you should have one, ask your centre's coordinator "
    "to add you with that address, or to check it."
)
SUSPENDED = (
    "Sorry, I can't help you here: the School Support Hub account with your Slack email "
    "address is suspended. Please ask your centre's coordinator."
)
NOT_CHECKED = (
    "Sorry, I couldn't check who you are with Slack just now; nothing was done. "
    "Please try again in a moment."
)


class IdentityUnavailable(Exception):
    """Slack could not tell us who the user is right now (not the same as
    "nobody"): the person is asked to try again, and nothing is cached."""


@dataclass(frozen=True)
class Who:
    """A Slack user as the hub sees them: the account, or why not."""

    user_id: str
    account: Account | None
    refusal: str = ""


class Identity:
    def __init__(
        self,
        client: WebClient,
        resolve: Callable[[str, str | None], Who],
        *,
        ttl: float = PROFILE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.resolve = resolve  # (user id, profile email) -> the account or why not
        self.ttl = ttl
        self.clock = clock
        self._emails: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def email(self, user_id: str) -> str | None:
        """The email on the user's Slack profile (None: none, a bot, or gone)."""
        now = self.clock()
        with self._lock:
            cached = self._emails.get(user_id)
        if cached is not None and now - cached[1] < self.ttl:
            return cached[0]
        try:
            user = self.client.users_info(user=user_id).get("user") or {}
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error in ("user_not_found", "user_not_visible"):
                user = {}
            else:
                raise IdentityUnavailable(str(error or exc)) from exc
        except OSError as exc:
            raise IdentityUnavailable(str(exc)) from exc
        email = None
        if not user.get("deleted") and not user.get("is_bot"):
            email = (user.get("profile") or {}).get("email") or None
        with self._lock:
            self._emails[user_id] = (email, now)
        return email

    def who(self, user_id: str) -> Who:
        return self.resolve(user_id, self.email(user_id))

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._emails.pop(user_id, None)
