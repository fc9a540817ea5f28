"""``delete EMAIL``: remove a suspended account for good (coordinator only).

An active account must be suspended first; an account that still owns
Progression Test data is offered a transfer first, after which the delete
carries on. Deleting asks twice, the second time naming the account.
"""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Reply, b, line
from hub import Action, HubError

ASK = "Which account do you want to delete? Send the email address or part of the name."


class Delete(Conversation):
    name = "delete"
    summary = "delete a suspended account for good"
    needs = Action.DELETE

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self.prefilled(c, arg, "account", ASK)

    def on_account(self, c: Ctx, answer: Answer) -> Reply:
        target = c.account(answer, Action.DELETE, step="account", prompt=ASK)
        c.data["account_id"] = target.account_id
        if target.active:
            return c.choose(
                "next",
                line(
                    "Only a suspended account can be deleted, and ", b(target.name), " is active."
                ),
                "Suspend the account first; it can then be deleted.",
                options=[("Suspend first", f"run:suspend:{target.account_id}")],
            )
        held = c.hub.data_held(target.account_id)
        if held.total:
            return c.choose(
                "held",
                line(b(target.name), f" still owns Progression Test data ({held.text()})."),
                "It must move to another account before the account can be deleted.",
                options=[("Transfer data first", "transfer")],
            )
        return c.confirm(
            "sure",
            line("Delete ", b(target.name), f" <{target.email}>?"),
            "The account and its access to every support site are removed. This cannot be undone.",
            label="Delete",
            danger=True,
        )

    def on_next(self, c: Ctx, answer: Answer) -> Reply:
        return c.follow(answer)

    def on_held(self, c: Ctx, answer: Answer) -> Reply:
        if answer.value != "transfer":
            raise HubError("Press 'Transfer data first' to move the data, or Cancel.")
        return c.switch("transfer", value=f"acc:{c.data['account_id']}", carry={"then": "delete"})

    def on_sure(self, c: Ctx, answer: Answer) -> Reply:
        target = c.hub.view(c.actor, c.data["account_id"])
        return c.confirm(
            "really",
            line("Last check: delete ", b(target.name), f" <{target.email}> for good?"),
            label=f"Yes, delete {target.name}"[:60],
            danger=True,
        )

    def on_really(self, c: Ctx, answer: Answer) -> Reply:
        target = c.hub.delete(c.actor, c.data["account_id"])
        return c.end(line(b(target.name), f" <{target.email}> was deleted."), "No email was sent.")
