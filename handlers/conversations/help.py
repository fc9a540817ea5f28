"""``help``: the menu of what this person may do, each a button."""

from __future__ import annotations

from typing import ClassVar

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Reply, b, line


class Help(Conversation):
    name = "help"
    summary = "what you can do here"
    aliases = ("start", "menu", "?")
    for_teachers = True
    audience: ClassVar[str] = "both"
    mutating = False

    def start(self, c: Ctx, arg: Answer) -> Reply:
        if c.me is None:
            return c.end(
                line(b("Welcome to the School Support Hub bot.")),
                "This chat is not linked to a hub account yet. Send 'link' followed by "
                "your hub email address (for example: link jane@school.org); we will email "
                "you a 6-digit code to send back here.",
            )
        menu = [(name, summary) for name, summary in c.menu if name != self.name]
        return c.choose(
            "chosen",
            line(
                "Hello ",
                b(c.me.name),
                ". What would you like to do? Choose, or type a "
                "command such as 'suspend jane@school.org'.",
            ),
            options=[(f"{name} - {summary}", f"run:{name}") for name, summary in menu],
        )

    def on_chosen(self, c: Ctx, answer: Answer) -> Reply:
        return c.follow(answer)
