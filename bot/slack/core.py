"""What the Slack front end asks of the rest of the bot, in one narrow place.

The adapter (:mod:`bot.slack.adapter`) never touches the store, the hub or
the engine itself: it asks a :class:`SlackCore`. :class:`LocalSlackCore`
answers in the same process; :class:`bot.slack.worker.RemoteSlackCore`
asks the bot's process over a link when Slack runs in a process of its own
(:mod:`bot.slack.process`). Every decision stays where the store is: whose
a profile email is, what a message or a press does, whether a form's entry
may be added, what the App Home shows.

The methods are plain calls, made from Slack's worker threads (the form's
check from the thread dispatching the request), safe to make from several
at once; what they take and give can be pickled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot import metrics
from bot.app import App
from bot.slack import render
from bot.slack.dedupe import processed_events
from bot.slack.identity import NOT_A_HUB_USER, SUSPENDED, Who
from handlers.engine import LAUNCHERS, STALE_BUTTON, Engine
from handlers.replies import Input, Person, Press, Reply, b, line
from hub import Account, Action, Actor, Hub, HubError, NewAccount, Role
from hub.sites import site_name
from storage import StoreError

log = logging.getLogger(__name__)
NAME = "slack"

# Methods the bot's process answers for a Slack process (bot.slack.process).
CALLS = ("claim", "who", "handle", "converse", "press", "may", "add_from_form", "home")


@dataclass(frozen=True)
class Turn:
    """Who sent a message or pressed a button, and the engine's answer (none
    for someone without an active account: ``who.refusal`` says why)."""

    who: Who
    replies: list[Reply]
    reusable: bool = False  # the pressed button stays usable (a digest's)


@dataclass(frozen=True)
class FormEntry:
    """The add-account form as submitted."""

    name: str
    email: str
    admin: bool
    sites: tuple[str, ...]


@dataclass(frozen=True)
class Home:
    """What the App Home tab shows a person."""

    centre_name: str
    counts: dict[str, int] | None  # None for a teacher
    allowed: tuple[str, ...]  # the commands they may use


class SlackCore(Protocol):
    add_words: frozenset[str]  # what starts the add conversation (or opens the form)
    remind_after_days: int

    def claim(self, key: str) -> bool:
        """True the first time a delivery is seen; False for a repeat. A
        claim the store could not record counts as the first: the work meets
        the store's error and says so."""

    def who(self, user_id: str, email: str | None) -> Who:
        """The active account with this profile email, or why not."""

    def handle(self, person: Person, said: Input) -> list[Reply]:
        """One input to the engine; its replies."""

    def converse(
        self, user_id: str, email: str | None, said: Input, once: str | None = None
    ) -> Turn | None:
        """:meth:`claim` of ``once`` (None for a repeat), :meth:`who`, then
        :meth:`handle` if they may: one question for a message, the
        commonest thing the bot is asked."""

    def press(
        self,
        user_id: str,
        email: str | None,
        token: str,
        label: str,
        tick_changes: list[tuple[str, str]],
        once: str | None = None,
    ) -> Turn | None:
        """:meth:`claim` of ``once`` (None for a repeat), :meth:`who`, then
        a button press after the tick boxes changed on its message."""

    def may(self, actor: Actor, action: Action) -> str | None:
        """None if allowed, else why not."""

    def add_from_form(self, actor: Actor, entry: FormEntry) -> dict[str, str] | Reply:
        """Check the form and add the account: the errors by field, or the
        confirmation to post."""

    def home(self, account: Account) -> Home:
        """The App Home's contents for this account."""

    def observe(self, started: float) -> None:
        """The bot's own work on one message ended now."""


class LocalSlackCore:
    """:class:`SlackCore` answered in this process, from the hub and engine."""

    def __init__(self, hub: Hub, engine: Engine, remind_after_days: int) -> None:
        self.hub = hub
        self.engine = engine
        self.remind_after_days = remind_after_days
        self.processed = processed_events(hub.store, hub.now)
        add = engine.conversations.get("add")
        self.add_words = frozenset({"add", *(add.aliases if add else ())})

    @classmethod
    def of(cls, app: App, engine: Engine) -> LocalSlackCore:
        return cls(app.hub, engine, app.config.remind_after_days)

    def claim(self, key: str) -> bool:
        return self.processed.first(key)

    def who(self, user_id: str, email: str | None) -> Who:
        account = self.hub.account_by_email(email) if email else None
        if account is None:
            return Who(user_id, None, NOT_A_HUB_USER)
        if not account.active:
            return Who(user_id, None, SUSPENDED)
        try:
            self.hub.remember_chat(NAME, user_id, account.account_id)
        except Exception:  # reminders can find the user again later; the answer matters more
            log.exception("could not record the Slack user of %s", account.account_id)
        return Who(user_id, account)

    def handle(self, person: Person, said: Input) -> list[Reply]:
        return self.engine.handle(person, said)

    def converse(
        self, user_id: str, email: str | None, said: Input, once: str | None = None
    ) -> Turn | None:
        return self._turn(
            user_id, email, once, lambda who: Turn(who, self.engine.handle(person_of(who), said))
        )

    def press(
        self,
        user_id: str,
        email: str | None,
        token: str,
        label: str,
        tick_changes: list[tuple[str, str]],
        once: str | None = None,
    ) -> Turn | None:
        def pressed(who: Who) -> Turn:
            reusable = self.hub.store.get(LAUNCHERS, token) is not None
            return Turn(who, self._press(person_of(who), token, label, tick_changes), reusable)

        return self._turn(user_id, email, once, pressed)

    def _turn(
        self, user_id: str, email: str | None, once: str | None, answer: Callable[[Who], Turn]
    ) -> Turn | None:
        """What a message and a press share: the claim of ``once`` (None for
        a repeat), who sent it, and ``answer`` only if they may use the bot."""
        if once is not None and not self.claim(once):
            return None
        who = self.who(user_id, email)
        if who.account is None:
            return Turn(who, [])
        return answer(who)

    def _press(
        self, person: Person, token: str, label: str, tick_changes: list[tuple[str, str]]
    ) -> list[Reply]:
        """Tick boxes changed on the pressed message count first as presses
        of those boxes, in order; each answer carries new tokens, so the next
        box and the button are pressed on the latest answer."""
        changes = list(tick_changes)
        for n in range(len(changes)):
            replies = self.engine.handle(person, Press(changes[n][1]))
            latest = replies[-1] if replies else None
            if stale(replies) or latest is None or not latest.ticks:
                return replies  # refused, or the conversation moved on: say so
            # Labels as Slack showed them (plain_label may have shortened them).
            fresh = {render.plain_label(t.label): t.token for t in latest.ticks}
            changes[n + 1 :] = [(lb, fresh.get(lb, tk)) for lb, tk in changes[n + 1 :]]
            buttons = {render.plain_label(bt.label): bt.token for bt in latest.buttons}
            token = buttons.get(label, token)
        return self.engine.handle(person, Press(token))

    def may(self, actor: Actor, action: Action) -> str | None:
        return self.hub.may(actor, action)

    def add_from_form(self, actor: Actor, entry: FormEntry) -> dict[str, str] | Reply:
        """The hub's own checks of a new account, each problem under its
        field (the form's blocks have the same names), then the addition,
        which checks again."""
        draft = NewAccount(entry.name, entry.email, entry.admin, entry.sites)
        try:
            (checked,) = self.hub.check_rows(actor, [draft])
        except HubError as exc:  # not allowed to add at all
            return {"name": exc.message}
        except StoreError as exc:
            return {"name": f"{exc} Please try again in a moment."}
        if not checked.ok:
            return dict(checked.by_field)
        try:
            outcome = self.hub.add_accounts(actor, [checked.draft])
        except HubError as exc:
            return {"email": exc.message}
        except StoreError as exc:
            return {"email": f"{exc} Nothing was changed."}
        if outcome.refused:
            return {"email": outcome.refused[0][1]}
        self.engine.on_change()  # an invitation is waiting in the outbox
        added = outcome.created[0]
        role = "admin" if added.is_admin else "teacher"
        return Reply(
            (
                line("Added ", b(added.name), f" <{added.email}> ({role})."),
                line("Sites: ", ", ".join(site_name(s) for s in added.sites), "."),
                line("An invitation to set a password was emailed to ", b(added.email), "."),
            ),
            final=True,
        )

    def home(self, account: Account) -> Home:
        centre = self.hub.centre(account.centre_id)
        counts = None
        if account.role is not Role.TEACHER:
            counts = self.hub.counts(account.centre_id, self.remind_after_days)
        allowed = tuple(name for name, _ in self.engine.commands_for(account, NAME))
        return Home(centre.name if centre else account.centre_id, counts, allowed)

    def observe(self, started: float) -> None:
        metrics.observe(started, NAME)


def person_of(who: Who) -> Person:
    assert who.account is not None
    return Person(NAME, who.user_id, who.account.account_id)


def stale(replies: list[Reply]) -> bool:
    """The engine refused a press of an old button."""
    return bool(replies) and replies[0].text == STALE_BUTTON
