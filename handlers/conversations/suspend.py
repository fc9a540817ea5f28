"""``suspend EMAIL``: the account can no longer log in; it can be restored."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Reply, b, line
from hub import Action

ASK = "Which account do you want to suspend? Send the email address or part of the name."


class Suspend(Conversation):
    name = "suspend"
    summary = "suspend an account (it can be restored later)"
    needs = Action.SUSPEND

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self.prefilled(c, arg, "account", ASK)

    def on_account(self, c: Ctx, answer: Answer) -> Reply:
        target = c.account(answer, Action.SUSPEND, step="account", prompt=ASK)
        if not target.active:
            return c.end(line(b(target.name), " is already suspended."))
        c.data["account_id"] = target.account_id
        return c.confirm(
            "confirmed",
            line("Suspend ", b(target.name), f" <{target.email}>?"),
            "They will no longer be able to log in to any support site. "
            "You can restore the account later.",
            label="Suspend",
        )

    def on_confirmed(self, c: Ctx, answer: Answer) -> Reply:
        target = c.hub.suspend(c.actor, c.data["account_id"])
        return c.end(
            line(b(target.name), " is suspended and can no longer log in."),
            "No email was sent. Restore the account with 'restore', or delete it later.",
        )
