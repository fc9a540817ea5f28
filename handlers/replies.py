"""What goes into a conversation and what comes out, free of any platform.

A front end turns a platform event into an :data:`Input` and renders each
:class:`Reply` in its own idiom (``[n] Label`` lines, inline keyboards, Block
Kit). Text is made of :class:`Span` s, so user text is never mixed into markup:
each front end escapes every span for its own platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Style = Literal["plain", "bold", "code"]
ButtonKind = Literal["choice", "confirm", "cancel", "danger", "nav"]


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = "plain"


def b(text: object) -> Span:
    """Bold: names and addresses the reader should notice."""
    return Span(str(text), "bold")


def code(text: object) -> Span:
    return Span(str(text), "code")


Line = tuple[Span, ...]


def line(*parts: str | Span) -> Line:
    """A line of text from plain strings and spans."""
    return tuple(p if isinstance(p, Span) else Span(p) for p in parts)


def clip(text: str, limit: int = 60) -> str:
    """What someone typed, quoted back in a reply: on one line, at most
    ``limit`` characters, so a pasted essay is not echoed back whole."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(ln: Line) -> str:
    return "".join(s.text for s in ln)


@dataclass(frozen=True)
class Button:
    """A choice. ``token`` is short, opaque and tied to one conversation step
    (it fits Telegram's 64-byte callback data); it never carries an email."""

    label: str
    token: str
    kind: ButtonKind = "choice"


@dataclass(frozen=True)
class Tick:
    """One box of a tick-box group; pressing it toggles, "Done" ends the group."""

    label: str
    token: str
    ticked: bool


@dataclass(frozen=True)
class Reply:
    lines: tuple[Line, ...]
    buttons: tuple[Button, ...] = ()
    ticks: tuple[Tick, ...] = ()
    # The reply updates the message whose button was pressed (tick toggles,
    # page turns), where the platform can edit messages in place.
    edit: bool = False
    # The conversation is over after this reply (front ends may drop the keyboard).
    final: bool = False

    @property
    def text(self) -> str:
        return "\n".join(plain(ln) for ln in self.lines)

    def all_buttons(self) -> tuple[Button | Tick, ...]:
        return (*self.ticks, *self.buttons)


@dataclass(frozen=True)
class Text:
    """Something typed."""

    text: str


@dataclass(frozen=True)
class Command:
    """A command started explicitly (``/suspend x`` in Telegram, ``/hub
    suspend x`` in Slack): it replaces any conversation in progress."""

    name: str
    args: str = ""


@dataclass(frozen=True)
class Press:
    """A button pressed: its token."""

    token: str


@dataclass(frozen=True)
class Upload:
    """A file sent (the CSV of an ``import``)."""

    filename: str
    data: bytes
    mime_type: str = ""


Input = Text | Command | Press | Upload


@dataclass(frozen=True)
class Person:
    """Who is talking: a chat identity on one front end, and the hub account
    it is linked to (None: not linked, or no longer active)."""

    frontend: str  # "console", "telegram", "slack"
    chat_id: str
    account_id: str | None

    @property
    def key(self) -> str:
        return f"{self.frontend}:{self.chat_id}"


@dataclass
class Outcome:
    """What one input produced: replies, and whether the outbox has mail."""

    replies: list[Reply] = field(default_factory=list)
    emails_queued: bool = False
