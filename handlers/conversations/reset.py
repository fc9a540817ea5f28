"""``reset EMAIL``: email a password reset link (1 hour), or resend the
invitation while it is pending. Teachers reset their own password only."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Reply, b, line
from hub import Action, Role
from hub.validation import lookup_key

OWN_ONLY = "Teachers can only reset their own password: send 'reset' on its own for yours."
ASK = "Whose password should be reset? Send the email address or part of the name."


class Reset(Conversation):
    name = "reset"
    summary = "email a password reset link (or resend an invitation)"
    aliases = ("resend", "password")
    needs = Action.RESET
    for_teachers = True

    def start(self, c: Ctx, arg: Answer) -> Reply:
        assert c.me is not None
        if c.me.role is Role.TEACHER and not arg.value:
            typed = arg.text.strip()
            if typed and lookup_key(typed) != lookup_key(c.me.email):
                return c.end(OWN_ONLY)  # never quietly swap in their own account
            return self.on_account(c, Answer(value=f"acc:{c.me.account_id}"))
        return self.prefilled(c, arg, "account", ASK)

    def on_account(self, c: Ctx, answer: Answer) -> Reply:
        target = c.account(answer, Action.RESET, step="account", prompt=ASK)
        if not target.active:
            return c.end(
                line(
                    b(target.name),
                    " is suspended; restore the account before resetting its password.",
                )
            )
        c.data["account_id"] = target.account_id
        whose = "your" if c.me and target.account_id == c.me.account_id else f"{target.name}'s"
        if target.invitation_pending:
            return c.confirm(
                "confirmed",
                line(
                    b(target.name),
                    " has not set a password yet: resend the invitation to ",
                    b(target.email),
                    "?",
                ),
                "The old invitation link will stop working.",
                label="Resend invitation",
            )
        return c.confirm(
            "confirmed",
            line(f"Email a link to reset {whose} password to ", b(target.email), "?"),
            "The link works once, for 1 hour. The current password keeps working until then.",
            label="Send reset link",
        )

    def on_confirmed(self, c: Ctx, answer: Answer) -> Reply:
        said = c.hub.reset_password(c.actor, c.data["account_id"])
        return c.end(said)
