"""``restore EMAIL``: a suspended account can log in again."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Reply, b, line
from hub import Action

ASK = "Which suspended account do you want to restore? Send the email address or part of the name."


class Restore(Conversation):
    name = "restore"
    summary = "restore a suspended account"
    needs = Action.RESTORE

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self.prefilled(c, arg, "account", ASK)

    def on_account(self, c: Ctx, answer: Answer) -> Reply:
        target = c.account(answer, Action.RESTORE, step="account", prompt=ASK)
        if target.active:
            return c.end(line(b(target.name), " is not suspended; nothing to restore."))
        c.data["account_id"] = target.account_id
        return c.confirm(
            "confirmed",
            line("Restore ", b(target.name), f" <{target.email}>?"),
            "They will be able to log in again with their existing password.",
            label="Restore",
        )

    def on_confirmed(self, c: Ctx, answer: Answer) -> Reply:
        target = c.hub.restore(c.actor, c.data["account_id"])
        return c.end(line(b(target.name), " is active again and can log in."), "No email was sent.")
