"""The pieces a conversation module is written with.

A conversation is a class whose ``start`` opens it and whose ``on_<step>``
methods each take the answer to one question. Each returns the next
:class:`Reply` through the :class:`Ctx` helpers (``ask``, ``choose``,
``tick``, ``confirm``, ``end``), which also record the next step. Reading a
module top to bottom gives the dialogue.

A step that finds the answer wrong raises :class:`~hub.HubError` (or
:class:`Reask`): the engine says why and asks the same question again.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from handlers.replies import (
    Button,
    ButtonKind,
    Line,
    Person,
    Reply,
    Span,
    Tick,
    b,
    clip,
    line,
)
from hub import Account, Action, Actor, Hub, HubError
from hub.directory import Page
from hub.permissions import refusal

CONFIRM = "confirm"
CANCEL = "cancel"


@dataclass(frozen=True)
class Answer:
    """The answer to a question: what was typed, the value of the button
    pressed (or of the button whose label was typed), or a file."""

    text: str = ""
    value: str | None = None
    filename: str | None = None
    data: bytes | None = None

    @property
    def account_id(self) -> str | None:
        if self.value and self.value.startswith("acc:"):
            return self.value[4:]
        return None


class Reask(Exception):
    """Ask again (or ask something narrower) without leaving the step."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply


@dataclass
class Switch:
    """Hand over to another conversation (a menu or card button); ``carry``
    becomes the new conversation's data (``delete`` → ``transfer`` → back)."""

    name: str
    value: str | None = None
    args: str = ""
    carry: dict[str, Any] | None = None


class Ctx:
    """One turn of a conversation: the hub, who is acting, the data kept
    between steps, and the helpers that build replies and record the step."""

    def __init__(self, hub: Hub, person: Person, me: Account | None, data: dict[str, Any]) -> None:
        self.hub = hub
        self.person = person
        self.me = me
        self.actor = Actor(person.account_id, person.key)
        self.data = data
        self.menu: list[tuple[str, str]] = []  # (command, summary) this person may start
        self.next_step: str | None = None
        self.confirming = False
        self.switch_to: Switch | None = None
        self.buttons: dict[str, str] = {}
        self._nonce = secrets.token_urlsafe(4)[:5]

    # ----------------------------------------------------------- buttons
    def button(self, label: str, value: str, kind: ButtonKind = "choice") -> Button:
        token = f"c{self._nonce}{len(self.buttons):x}"
        self.buttons[token] = value
        return Button(label, token, kind)

    def _tick(self, label: str, value: str, ticked: bool) -> Tick:
        token = f"c{self._nonce}{len(self.buttons):x}"
        self.buttons[token] = value
        return Tick(label, token, ticked)

    # ----------------------------------------------------------- replies
    def ask(
        self, step: str, *lines: Line | str, buttons: Iterable[Button] = (), edit: bool = False
    ) -> Reply:
        self.next_step = step
        return Reply(_lines(lines), tuple(buttons), edit=edit)

    def choose(
        self,
        step: str,
        *lines: Line | str,
        options: Sequence[tuple[str, str]],
        extra: Iterable[tuple[str, str, ButtonKind]] = (),
        edit: bool = False,
    ) -> Reply:
        """Ask with one button per (label, value) option."""
        buttons = [self.button(label, value) for label, value in options]
        buttons += [self.button(label, value, kind) for label, value, kind in extra]
        buttons.append(self.button("Cancel", CANCEL, "cancel"))
        return self.ask(step, *lines, buttons=buttons, edit=edit)

    def tick(
        self,
        step: str,
        *lines: Line | str,
        options: Sequence[tuple[str, str]],
        ticked: Iterable[str],
        edit: bool = False,
    ) -> Reply:
        """A tick-box group: each press toggles a box; "Done" answers."""
        chosen = set(ticked)
        ticks = tuple(
            self._tick(label, f"tick:{value}", value in chosen) for label, value in options
        )
        buttons = (self.button("Done", "done", "confirm"), self.button("Cancel", CANCEL, "cancel"))
        self.next_step = step
        return Reply(_lines(lines), buttons, ticks, edit=edit)

    def confirm(
        self, step: str, *lines: Line | str, label: str = "Confirm", danger: bool = False
    ) -> Reply:
        """The summary before a change: nothing is written until Confirm."""
        self.confirming = True
        buttons = (
            self.button(label, CONFIRM, "danger" if danger else "confirm"),
            self.button("Cancel", CANCEL, "cancel"),
        )
        return self.ask(step, *lines, buttons=buttons)

    def end(self, *lines: Line | str, buttons: Iterable[Button] = ()) -> Reply:
        self.next_step = None
        return Reply(_lines(lines), tuple(buttons), final=True)

    def switch(
        self,
        name: str,
        value: str | None = None,
        args: str = "",
        carry: dict[str, Any] | None = None,
    ) -> Reply:
        self.switch_to = Switch(name, value, args, carry)
        self.next_step = None
        return Reply(())

    def follow(self, answer: Answer) -> Reply:
        """Start what a menu or card button names (``run:<conversation>[:<id>]``);
        typed text instead is read as a new command."""
        if answer.value and answer.value.startswith("run:"):
            _, name, *account = answer.value.split(":", 2)
            return self.switch(name, value=f"acc:{account[0]}" if account else None)
        word, _, rest = answer.text.strip().partition(" ")
        return self.switch(word.lower().lstrip("/") or "help", args=rest.strip())

    def names_command(self, answer: Answer) -> bool:
        """Whether typed text starts with a command this person may run, so
        that a list or card on screen does not swallow 'suspend jane@…'."""
        word = answer.text.strip().split(" ", 1)[0].lstrip("/").lower()
        return not answer.value and any(word == name for name, _ in self.menu)

    def paged(
        self,
        step: str,
        header: Line | str,
        page: Page[Any],
        options: Sequence[tuple[str, str]],
        empty: str,
        edit: bool = False,
    ) -> Reply:
        """A page of choices with Previous / Next."""
        if not page.total:
            return self.end(empty)
        nav: list[tuple[str, str, ButtonKind]] = []
        if page.page > 1:
            nav.append(("Previous", f"page:{page.page - 1}", "nav"))
        if page.page < page.pages:
            nav.append(("Next", f"page:{page.page + 1}", "nav"))
        return self.choose(
            step,
            header,
            f"Page {page.page} of {page.pages} ({page.total} in all).",
            options=options,
            extra=nav,
            edit=edit,
        )

    # ---------------------------------------------------- finding accounts
    def account(
        self, answer: Answer, action: Action | None = None, *, step: str, prompt: str
    ) -> Account:
        """The account an answer names: a button's account, an email
        address, or a part of a name or address matching one account. Several
        matches are offered as buttons; none is a clear refusal. ``action``
        is checked against the account (rule 10, teachers' own account)."""
        if answer.account_id:
            target = self.hub.view(self.actor, answer.account_id)
        elif "@" in answer.text:
            target = self.hub.view_by_email(self.actor, answer.text)
        else:
            words = answer.text.strip()
            if not words:
                raise HubError(prompt)
            matches = self.hub.search(self.actor, words, per_page=8)
            if not matches.total:
                raise HubError(f"No account in your centre matches {clip(words)!r}.")
            if matches.total > 1:
                raise Reask(
                    self.choose(
                        step,
                        line("Several accounts match ", b(clip(words)), ". Which one?"),
                        options=[(a.label, f"acc:{a.account_id}") for a in matches.items],
                    )
                )
            target = matches.items[0]
        if action is not None:
            # self.me was read for this input; the change checks again.
            why = refusal(self.me, action, target) if self.me else None
            if why:
                raise HubError(why)
        return target


class Conversation:
    """Base of every conversation. Subclasses set the class attributes and
    write ``start`` and their ``on_<step>`` methods."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one line for the help menu and the Telegram command list
    needs: ClassVar[Action | None] = None  # checked before the first question
    for_teachers: ClassVar[bool] = False  # shown in a teacher's menu
    # Who sees it: "linked" (a hub account), "unlinked" (a chat not yet
    # linked: the linking conversations) or "both" (help).
    audience: ClassVar[str] = "linked"
    frontends: ClassVar[frozenset[str] | None] = None  # None: every front end
    mutating: ClassVar[bool] = True
    aliases: ClassVar[tuple[str, ...]] = ()

    def start(self, c: Ctx, arg: Answer) -> Reply:
        raise NotImplementedError

    def prefilled(self, c: Ctx, arg: Answer, step: str, *prompt: Line | str) -> Reply:
        """Use the command's argument as the answer to ``step`` if there is
        one, else ask; a wrong argument is explained, then asked for."""
        c.next_step = step
        if arg.text.strip() or arg.value:
            try:
                return getattr(self, f"on_{step}")(c, arg)
            except HubError as exc:
                return c.ask(step, line(exc.message), *prompt)
        return c.ask(step, *prompt)


def _lines(items: Sequence[Line | str]) -> tuple[Line, ...]:
    return tuple(line(i) if isinstance(i, str) else i for i in items)


def account_line(a: Account) -> Line:
    return line(b(a.name), " ", Span(f"<{a.email}>"))
