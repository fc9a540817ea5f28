"""``snooze EMAIL``: leave a suspended account out of the reminders for 7 days."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Reply, b, line
from hub import Action

ASK = "Which suspended account should the reminders leave out for 7 days?"


class Snooze(Conversation):
    name = "snooze"
    summary = "leave a suspended account out of the reminders for 7 days"
    needs = Action.SUSPEND

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self.prefilled(c, arg, "account", ASK)

    def on_account(self, c: Ctx, answer: Answer) -> Reply:
        target = c.account(answer, Action.SUSPEND, step="account", prompt=ASK)
        if target.active:
            return c.end(line(b(target.name), " is not suspended; there is nothing to snooze."))
        c.data["account_id"] = target.account_id
        return c.confirm(
            "confirmed",
            line("Leave ", b(target.name), " out of the daily reminders for 7 days?"),
            label="Snooze 7 days",
        )

    def on_confirmed(self, c: Ctx, answer: Answer) -> Reply:
        target = c.hub.snooze(c.actor, c.data["account_id"])
        until = f"{target.snoozed_until:%d %b %Y}" if target.snoozed_until else "7 days"
        return c.end(line(b(target.name), f" will not appear in reminders until {until}."))
