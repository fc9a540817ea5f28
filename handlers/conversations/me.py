"""``me``: your own account's card."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.conversations.show import card_lines
from handlers.replies import Reply


class Me(Conversation):
    name = "me"
    summary = "your own account"
    aliases = ("whoami",)
    for_teachers = True
    mutating = False

    def start(self, c: Ctx, arg: Answer) -> Reply:
        assert c.me is not None
        me = c.hub.view(c.actor, c.me.account_id)
        reset = c.button("Reset my password", f"run:reset:{me.account_id}")
        return c.ask("action", *card_lines(c, me), buttons=[reset])

    def on_action(self, c: Ctx, answer: Answer) -> Reply:
        return c.follow(answer)
