"""Neutral replies as Telegram messages: HTML text and inline keyboards.

Every span is escaped (only ``&``, ``<`` and ``>`` need it in Telegram's HTML
mode, and only ``&lt; &gt; &amp; &quot;`` are valid entities), so a name such
as ``<b>x</b> & <script>`` shows as typed. Bold spans become ``<b>``, code
spans ``<code>``. A reply longer than Telegram's 4096 characters is split at
line boundaries into several messages; the keyboard goes on the last one.
A button's callback data is its token, checked against Telegram's 64 bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.replies import Button, Line, Reply, Span, Tick

MAX_TEXT = 4096  # Telegram's limit for one message's text
MAX_CALLBACK_DATA = 64  # bytes of UTF-8
TICKED, UNTICKED = "✅", "⬜"
_TAGS = {"plain": ("", ""), "bold": ("<b>", "</b>"), "code": ("<code>", "</code>")}
_GROUPED = {"confirm": "act", "danger": "act", "cancel": "act", "nav": "nav"}
_ROW_MAX = 3
_SHORT_LABEL = 24


@dataclass(frozen=True)
class Message:
    text: str  # HTML
    markup: InlineKeyboardMarkup | None = None


def escape(text: str) -> str:
    """Telegram HTML: escape ``&``, ``<`` and ``>``; quotes may stay as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def size(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def span_html(span: Span) -> str:
    opening, closing = _TAGS.get(span.style, ("", ""))
    return f"{opening}{escape(span.text)}{closing}"


def line_html(ln: Line) -> str:
    return "".join(span_html(s) for s in ln)


def callback_data(token: str) -> str:
    if not token or len(token.encode("utf-8")) > MAX_CALLBACK_DATA:
        raise ValueError(f"button token of {len(token.encode('utf-8'))} bytes: Telegram allows 64")
    return token


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Tick boxes one per row; then the buttons: each choice on its own row,
    short Confirm/Cancel-like or Previous/Next buttons side by side."""
    rows: list[list[InlineKeyboardButton]] = [[_tick_button(t)] for t in reply.ticks]
    group: str | None = None
    for button in reply.buttons:
        kind = _GROUPED.get(button.kind)
        key = kind if kind and len(button.label) <= _SHORT_LABEL else None
        if key is not None and key == group and len(rows[-1]) < _ROW_MAX:
            rows[-1].append(_button(button))
        else:
            rows.append([_button(button)])
        group = key
    return InlineKeyboardMarkup(rows) if rows else None


def _button(button: Button) -> InlineKeyboardButton:
    return InlineKeyboardButton(button.label, callback_data=callback_data(button.token))


def _tick_button(tick: Tick) -> InlineKeyboardButton:
    mark = TICKED if tick.ticked else UNTICKED
    return InlineKeyboardButton(f"{mark} {tick.label}", callback_data=callback_data(tick.token))


def render(reply: Reply, limit: int = MAX_TEXT) -> list[Message]:
    """One reply as one or more messages (none when it has nothing to show)."""
    markup = keyboard(reply)
    pieces: list[str] = []
    for ln in reply.lines:
        html = line_html(ln)
        pieces.extend([html] if size(html) <= limit else split_line(ln, limit))
    chunks = pack(pieces, limit)
    if not any(c.strip() for c in chunks):
        if markup is None:
            return []
        chunks = ["Choose:"]
    chunks = [c for c in chunks if c.strip()]
    return [
        Message(text, markup if i == len(chunks) - 1 else None) for i, text in enumerate(chunks)
    ]


def pack(pieces: Sequence[str], limit: int = MAX_TEXT) -> list[str]:
    """Join lines with newlines into as few texts within ``limit`` as possible."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for piece in pieces:
        extra = size(piece) + (1 if current else 0)
        if current and used + extra > limit:
            chunks.append("\n".join(current))
            current, used = [], 0
            extra = size(piece)
        current.append(piece)
        used += extra
    if current:
        chunks.append("\n".join(current))
    return chunks


def split_line(ln: Line, limit: int = MAX_TEXT) -> list[str]:
    """A line too long for one message, cut into well-formed HTML pieces."""
    pieces: list[str] = []
    current = ""
    for span in ln:
        opening, closing = _TAGS.get(span.style, ("", ""))
        text = span.text
        while text:
            room = limit - size(current) - size(opening) - size(closing)
            take = _fitting(text, room) or (0 if current else 1)
            if take == 0:
                pieces.append(current)
                current = ""
                continue
            current += f"{opening}{escape(text[:take])}{closing}"
            text = text[take:]
    if current:
        pieces.append(current)
    return pieces


def _fitting(text: str, room: int) -> int:
    """How many characters of ``text`` fit in ``room`` once escaped; cut at a
    space when one is near the end."""
    used = 0
    count = 0
    for ch in text:
        cost = size(escape(ch))
        if used + cost > room:
            break
        used += cost
        count += 1
    if 0 < count < len(text):
        space = text.rfind(" ", 0, count)
        if space > count // 2:
            return space + 1
    return count
