"""The console front end: chat with the bot in a terminal as one hub account.

Buttons show as ``[n] Label``; typing ``n`` or the label chooses. Tick boxes
show ``[n] ✅ Label`` / ``[n] ⬜ Label``. With piped input it reads a line at a
time, prints every reply, and exits 0 at the end of the input.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from handlers.engine import Engine
from handlers.replies import Command, Input, Person, Press, Reply, Span, Text

_CONTROL = {i: f"\\x{i:02x}" for i in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F)}


def escape(text: str) -> str:
    """Terminal-safe: no escape sequences or carriage returns from user text."""
    return text.translate(_CONTROL)


class ConsoleRenderer:
    """Turns replies into lines; remembers the last buttons for ``n``."""

    def __init__(self, colour: bool = False) -> None:
        self.colour = colour
        self.choices: list[str] = []

    def _span(self, span: Span) -> str:
        text = escape(span.text)
        if span.style == "bold" and self.colour:
            return f"\x1b[1m{text}\x1b[0m"
        if span.style == "code":
            return f"`{text}`"
        return text

    def render(self, reply: Reply) -> str:
        out = ["".join(self._span(s) for s in ln) for ln in reply.lines]
        if reply.ticks or reply.buttons:
            self.choices = []
        for tick in reply.ticks:
            self.choices.append(tick.token)
            mark = "✅" if tick.ticked else "⬜"
            out.append(f"  [{len(self.choices)}] {mark} {escape(tick.label)}")
        for button in reply.buttons:
            self.choices.append(button.token)
            out.append(f"  [{len(self.choices)}] {escape(button.label)}")
        if reply.final:
            self.choices = []
        return "\n".join(out)

    def _number(self, text: str) -> int | None:
        """The ``n`` of a ``[n]`` on screen that ``text`` names, or None.
        ASCII digits only: ``int`` refuses "²" and numbers of 4,300 digits."""
        if self.choices and text.isascii() and text.isdigit() and len(text) <= 6:
            n = int(text)
            if 1 <= n <= len(self.choices):
                return n
        return None

    def out_of_range(self, typed: str) -> str | None:
        """What to say to a number that names no button on screen, or None."""
        text = typed.strip()
        if self.choices and text.isascii() and text.isdigit() and self._number(text) is None:
            shown = text if len(text) <= 6 else text[:6] + "…"
            return (
                f"There is no [{shown}] here: type a number from 1 to {len(self.choices)}, "
                "or the answer itself."
            )
        return None

    def read(self, typed: str) -> Input:
        text = typed.strip()
        n = self._number(text)
        if n is not None:
            return Press(self.choices[n - 1])
        if text.startswith("/") and text.lower() not in ("/cancel",):
            name, _, args = text[1:].partition(" ")
            if name:
                return Command(name.lower(), args.strip())
        return Text(text)


def run_console(
    engine: Engine,
    person: Person,
    *,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    greeting: Iterable[str] = (),
    renderer: ConsoleRenderer | None = None,
) -> int:
    interactive = stdin.isatty() and stdout.isatty()
    renderer = renderer or ConsoleRenderer(colour=interactive)
    for text in greeting:
        print(text, file=stdout)
    waiting = engine.pending(person)
    if waiting is not None:  # a conversation from before a restart carries on
        print("You were in the middle of something; carrying on (or type 'cancel'):", file=stdout)
        print(renderer.render(waiting), file=stdout)
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        typed = stdin.readline()
        if not typed:
            if interactive:
                print(file=stdout)
            return 0
        if not typed.strip():
            continue
        if not interactive:
            print(f"> {escape(typed.rstrip())}", file=stdout)
        unknown = renderer.out_of_range(typed)
        if unknown:
            print(unknown, file=stdout)
            continue
        for reply in engine.handle(person, renderer.read(typed)):
            text = renderer.render(reply)
            if text:
                print(text, file=stdout)
        stdout.flush()


class ConsoleFrontEnd:
    """The console as a place to show digests while ``hubbot run`` is
    chatting in it. It is a live session, not a linked chat: people with
    no linked Telegram or Slack chat still get their digest by email."""

    name = "console"

    def __init__(self, renderer: ConsoleRenderer, stdout: TextIO = sys.stdout) -> None:
        self.renderer = renderer  # shared with the session, so [n] picks a digest button
        self.stdout = stdout

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def healthy(self) -> bool:
        return True

    def http_mounts(self) -> dict[str, object]:
        return {}

    def push(self, chat_id: str, replies: list[Reply]) -> None:
        for reply in replies:
            print("\n" + self.renderer.render(reply), file=self.stdout, flush=True)

    def find_chat(self, email: str) -> str | None:
        return None
