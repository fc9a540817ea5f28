"""Replies as Slack messages: Block Kit blocks and the fallback ``text``.

Every span is escaped for mrkdwn before any markup is added around it, so
text people typed (names, search words) can never mention anyone, inject a
link or break the formatting:

- ``&``, ``<`` and ``>`` become ``&amp;``, ``&lt;``, ``&gt;`` (Slack's own
  escaping: ``<!channel>`` then shows as text and notifies no one);
- mrkdwn has no escape character for ``*``, `````, ``~`` and word-edge ``_``,
  so those are replaced by look-alike characters;
- section texts are ``verbatim``: Slack does not turn bare URLs, ``#channel``
  names or ``@mentions`` in them into links.

Bold spans become ``*text*``, code spans ```text```. Buttons are ``actions``
blocks (at most 25 elements each, labels cut to 75 characters, Confirm
``primary`` and dangerous ones ``danger``); tick boxes are one
``checkboxes`` element per 10 boxes. Long replies are split into several
section blocks of at most 3,000 characters, and a message has at most 50
blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from handlers.replies import Button, Line, Reply, Span, Tick

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
ELEMENTS_PER_ACTIONS = 25
OPTIONS_PER_CHECKBOXES = 10
LABEL_LIMIT = 75
TEXT_LIMIT = 3000  # the fallback text: notifications only need the gist
BUTTON_PREFIX = "hub_button_"
TICKS_PREFIX = "hub_ticks_"
TICKS_BLOCK = "hub_ticks"
SHORTENED = "… (shortened: the rest did not fit in one Slack message)"

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Look-alikes for mrkdwn's formatting characters, which it cannot escape.
_LOOKALIKES = str.maketrans({"*": "\u2217", "`": "\u02cb", "~": "\u223c"})
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def escape(text: str) -> str:
    """Text shown as itself in mrkdwn, whatever it contains."""
    text = text.translate(_ENTITIES).translate(_LOOKALIKES)
    # An underscore inside a word (jane_doe@school.org) formats nothing; at a
    # word's edge it may open or close italics.
    return _EDGE_UNDERSCORE.sub("\uff3f", text)


def _wrap(text: str, mark: str) -> str:
    """``*text*`` around each non-blank stretch, so the marks touch words."""
    out = []
    for part in escape(text).split("\n"):
        core = part.strip()
        if not core:
            out.append(part)
            continue
        start = part.index(core)
        out.append(f"{part[:start]}{mark}{core}{mark}{part[start + len(core) :]}")
    return "\n".join(out)


def span_mrkdwn(span: Span) -> str:
    if span.style == "bold":
        return _wrap(span.text, "*")
    if span.style == "code":
        return _wrap(span.text, "`")
    return escape(span.text)


def line_mrkdwn(ln: Line) -> str:
    return "".join(span_mrkdwn(s) for s in ln)


def plain_label(text: str, limit: int = LABEL_LIMIT) -> str:
    """A plain_text label: Slack does not parse it, but it has a length limit."""
    text = " ".join(text.split()) or "…"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut(text: str, limit: int) -> tuple[str, str]:
    """Split ``text`` at most ``limit`` characters in, at a line break or a
    space if there is one, never inside an ``&amp;`` entity."""
    if len(text) <= limit:
        return text, ""
    cut = text.rfind("\n", 0, limit + 1)
    if cut <= limit // 2:
        cut = text.rfind(" ", 0, limit + 1)
    if cut <= limit // 2:
        cut = limit
        amp = text.rfind("&", max(0, cut - 5), cut)
        if amp != -1 and ";" not in text[amp:cut]:
            cut = amp
    return text[:cut], text[cut:].lstrip("\n")


def sections(mrkdwn: str, limit: int = SECTION_LIMIT) -> list[str]:
    """The text in pieces that each fit one section block."""
    pieces = []
    rest = mrkdwn
    while rest:
        piece, rest = _cut(rest, limit)
        if piece.strip():
            pieces.append(piece)
    return pieces


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def _option(tick: Tick) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": plain_label(tick.label)}, "value": tick.token}


def tick_blocks(ticks: tuple[Tick, ...]) -> list[dict[str, Any]]:
    """The tick boxes as checkboxes, ten a group, all in one actions block."""
    elements = []
    for n, start in enumerate(range(0, len(ticks), OPTIONS_PER_CHECKBOXES)):
        group = ticks[start : start + OPTIONS_PER_CHECKBOXES]
        element: dict[str, Any] = {
            "type": "checkboxes",
            "action_id": f"{TICKS_PREFIX}{n}",
            "options": [_option(t) for t in group],
        }
        ticked = [_option(t) for t in group if t.ticked]
        if ticked:
            element["initial_options"] = ticked
        elements.append(element)
    return [{"type": "actions", "block_id": TICKS_BLOCK, "elements": elements}] if elements else []


def button_element(button: Button, n: int) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": f"{BUTTON_PREFIX}{n}",
        "text": {"type": "plain_text", "text": plain_label(button.label), "emoji": True},
        "value": button.token,
    }
    if button.kind == "confirm":
        element["style"] = "primary"
    elif button.kind == "danger":
        element["style"] = "danger"
    return element


def button_blocks(buttons: tuple[Button, ...]) -> list[dict[str, Any]]:
    elements = [button_element(b, n) for n, b in enumerate(buttons)]
    return [
        {"type": "actions", "elements": elements[i : i + ELEMENTS_PER_ACTIONS]}
        for i in range(0, len(elements), ELEMENTS_PER_ACTIONS)
    ]


@dataclass(frozen=True)
class Message:
    """What chat.postMessage / chat.update take: ``text`` is the fallback
    shown in notifications, ``blocks`` the message itself."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def fallback_text(reply: Reply) -> str:
    text = "\n".join(line_mrkdwn(ln) for ln in reply.lines).strip()
    if not text:
        labels = [t.label for t in reply.ticks] + [b.label for b in reply.buttons]
        text = escape(", ".join(labels)) or " "
    return sections(text, TEXT_LIMIT)[0] if len(text) > TEXT_LIMIT else text


def render(reply: Reply) -> Message:
    """A reply as one Slack message."""
    body = "\n".join(line_mrkdwn(ln) for ln in reply.lines)
    controls = tick_blocks(reply.ticks) + button_blocks(reply.buttons)
    room = MAX_BLOCKS - len(controls)
    if room < 1:  # more buttons than one message holds: keep the text, then what fits
        controls = controls[: MAX_BLOCKS - 2]
        room = 2
    texts = [section(piece) for piece in sections(body)]
    if len(texts) > room:
        texts = [*texts[: room - 1], context(SHORTENED)]
    return Message(fallback_text(reply), texts + controls)


def is_empty(reply: Reply) -> bool:
    return not (reply.lines or reply.buttons or reply.ticks)


def answered(blocks: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    """A message after one of its buttons was used: the text stays, the
    buttons and tick boxes go, and a line says what was chosen (so an old
    message offers nothing to press twice)."""
    kept = [b for b in blocks if b.get("type") not in ("actions", "input")]
    note = context(f"\u2713 {escape(plain_label(label, 200))}")
    return [*kept[: MAX_BLOCKS - 1], note]
