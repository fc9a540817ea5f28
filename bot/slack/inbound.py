"""Slack payloads in, neutral inputs out.

Slack sends what people typed in its own markup: ``&``, ``<`` and ``>`` as
entities, addresses as ``<mailto:jane@school.org|jane@school.org>``, links as
``<https://…|label>``, mentions as ``<@U123>``. :func:`typed_text` turns that
back into the plain text the person saw, so ``suspend jane@school.org`` reads
the same from a direct message as from the console.
"""

from __future__ import annotations

import re
from typing import Any

from bot.slack.render import BUTTON_PREFIX, TICKS_BLOCK, TICKS_PREFIX
from handlers.engine import CANCEL_WORDS
from handlers.replies import Command, Input, Text

_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_SPECIAL = {"!channel": "@channel", "!here": "@here", "!everyone": "@everyone"}


def _unmark(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#")):
        return ""  # a mention of someone (usually the bot itself): not part of the words
    if target.startswith("!"):
        return label or _SPECIAL.get(target.split("^")[0], "")
    if label:
        return label
    return target.removeprefix("mailto:")


def typed_text(text: str | None) -> str:
    """The text as the person typed it (mentions removed, links as shown)."""
    text = _MARKUP.sub(_unmark, text or "")
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split()) if "\n" not in text else text.strip()


def command(text: str | None) -> Input:
    """``/hub suspend jane@school.org`` (or ``@hub suspend …`` in a channel)
    → ``Command("suspend", "jane@school.org")``; ``/hub`` alone is help."""
    words = typed_text(text).strip()
    name, _, args = words.partition(" ")
    name = name.lstrip("/").lower()
    if name in CANCEL_WORDS:
        return Text("cancel")
    return Command(name or "help", args.strip())


# ------------------------------------------------------------ block actions
def button_press(payload: dict[str, Any]) -> tuple[str, str] | None:
    """(token, label) of the hub button pressed, if it was one."""
    for action in payload.get("actions", []):
        if action.get("type") == "button" and action.get("action_id", "").startswith(BUTTON_PREFIX):
            return str(action.get("value", "")), str(action.get("text", {}).get("text", ""))
    return None


def _message_ticks(message: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    """The tick boxes of a message as it was sent: label by token, and the
    tokens that were ticked."""
    labels: dict[str, str] = {}
    ticked: set[str] = set()
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") != "checkboxes":
                continue
            for option in element.get("options", []):
                labels[option["value"]] = option.get("text", {}).get("text", "")
            ticked |= {o["value"] for o in element.get("initial_options", [])}
    return labels, ticked


def tick_changes(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, token) of the boxes the person ticked or unticked on the
    message before pressing one of its buttons, in the message's order.

    Slack keeps tick boxes in the client and reports their state with every
    button press (``state.values``); the conversation hears each change as a
    press of that box, then the button.
    """
    message = payload.get("message") or {}
    labels, was = _message_ticks(message)
    if not labels:
        return []
    values = (payload.get("state") or {}).get("values") or {}
    block = values.get(TICKS_BLOCK)
    if block is None:
        return []  # no state reported: nothing was changed
    now: set[str] = set()
    for action_id, element in block.items():
        if action_id.startswith(TICKS_PREFIX):
            now |= {o["value"] for o in element.get("selected_options") or []}
    changed = (now ^ was) & set(labels)
    return [(labels[token], token) for token in labels if token in changed]


def user_id(body: dict[str, Any]) -> str | None:
    """Who sent a request, whatever its kind."""
    if "event" in body:
        return body["event"].get("user")
    if isinstance(body.get("user"), dict):
        return body["user"].get("id")
    return body.get("user_id")
