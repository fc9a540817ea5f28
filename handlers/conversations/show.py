"""``show EMAIL``: an account's card, with a button for each action this
person may take on it now."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Line, Reply, b, line
from hub import Account, Action
from hub.permissions import refusal, state_allows
from hub.sites import site_name

# Card buttons: the action, its label, and the conversation it starts.
CARD_ACTIONS = (
    (Action.EDIT, "Edit", "edit"),
    (Action.RESET, "Reset password", "reset"),
    (Action.SUSPEND, "Suspend", "suspend"),
    (Action.RESTORE, "Restore", "restore"),
    (Action.TRANSFER, "Transfer data", "transfer"),
    (Action.GRANT_ADMIN, "Give admin rights", "admin"),
    (Action.REMOVE_ADMIN, "Remove admin rights", "unadmin"),
    (Action.DELETE, "Delete", "delete"),
)


def card_lines(c: Ctx, account: Account) -> list[Line]:
    held = c.hub.data_held(account.account_id)
    lines = [
        line(b(account.name)),
        line("Email: ", account.email),
        line("Role: ", account.role.value),
        line("Status: ", account.status.value),
        line("Invitation pending: ", "yes" if account.invitation_pending else "no"),
        line("Sites: ", ", ".join(site_name(s) for s in account.sites)),
        line("Progression Test data: ", held.text()),
    ]
    if account.suspended_at:
        lines.insert(4, line("Suspended since: ", f"{account.suspended_at:%d %b %Y}"))
    return lines


def card_actions(c: Ctx, account: Account) -> list[tuple[str, str]]:
    """(label, value) for each action allowed on the account in its state."""
    actions = []
    for action, label, conversation in CARD_ACTIONS:
        if not state_allows(action, account):
            continue
        if action is Action.TRANSFER and not c.hub.data_held(account.account_id).total:
            continue
        if action is Action.RESET and account.invitation_pending:
            label = "Resend invitation"
        # c.me was read for this input; each action checks again when run.
        if c.me is not None and refusal(c.me, action, account) is None:
            actions.append((label, f"run:{conversation}:{account.account_id}"))
    return actions


class Show(Conversation):
    name = "show"
    summary = "an account's card and what you can do with it"
    aliases = ("card", "view")
    needs = Action.VIEW
    mutating = False

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self.prefilled(
            c, arg, "account", "Whose account? Send the email address or part of the name."
        )

    def on_account(self, c: Ctx, answer: Answer) -> Reply:
        account = c.account(answer, Action.VIEW, step="account", prompt="Send an email address.")
        actions = card_actions(c, account)
        if not actions:
            return c.end(*card_lines(c, account))
        return c.choose("action", *card_lines(c, account), options=actions)

    def on_action(self, c: Ctx, answer: Answer) -> Reply:
        return c.follow(answer)
