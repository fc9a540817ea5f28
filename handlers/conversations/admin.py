"""``admin EMAIL`` / ``unadmin EMAIL``: give or remove admin rights
(coordinator only; never the coordinator's own, rule 10)."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Reply, b, line
from hub import Action, Role


class Admin(Conversation):
    name = "admin"
    summary = "give a teacher admin rights"
    needs = Action.GRANT_ADMIN
    ask = "Who should get admin rights? Send the email address or part of the name."

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self.prefilled(c, arg, "account", self.ask)

    def on_account(self, c: Ctx, answer: Answer) -> Reply:
        target = c.account(answer, self.needs, step="account", prompt=self.ask)
        c.data["account_id"] = target.account_id
        if self.needs is Action.GRANT_ADMIN:
            if target.role is not Role.TEACHER:
                return c.end(line(b(target.name), " already has admin rights."))
            return c.confirm(
                "confirmed",
                line("Give ", b(target.name), " admin rights?"),
                "They will be able to add accounts, edit teachers' details, suspend, restore, "
                "transfer data and reset passwords for your centre.",
                label="Give admin rights",
            )
        if target.role is not Role.ADMIN:
            return c.end(line(b(target.name), " has no admin rights to remove."))
        return c.confirm(
            "confirmed",
            line("Remove the admin rights of ", b(target.name), "?"),
            "They keep their account and site access as a teacher.",
            label="Remove admin rights",
        )

    def on_confirmed(self, c: Ctx, answer: Answer) -> Reply:
        grant = self.needs is Action.GRANT_ADMIN
        target = c.hub.set_admin(c.actor, c.data["account_id"], grant)
        if grant:
            return c.end(line(b(target.name), " now has admin rights. No email was sent."))
        return c.end(line(b(target.name), " no longer has admin rights. No email was sent."))


class Unadmin(Admin):
    name = "unadmin"
    summary = "remove someone's admin rights"
    needs = Action.REMOVE_ADMIN
    ask = "Whose admin rights should be removed? Send the email address or part of the name."
