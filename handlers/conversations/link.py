"""``link EMAIL`` / ``verify CODE`` / ``unlink``: tie a Telegram chat to a
hub account with a 6-digit code emailed to the account's address. The reply
to ``link`` never says whether the address exists."""

from __future__ import annotations

from typing import ClassVar

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Reply, b, line
from hub import HubError
from hub.links import LOCKED, LinkRefused

ASK_EMAIL = "Which hub email address should this chat be linked to?"
ASK_CODE = "Send the 6-digit code from the email."


def _verify(c: Ctx, answer: Answer) -> Reply:
    code = answer.text.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        raise HubError("The code is 6 digits, like 123456.")
    try:
        account = c.hub.verify_link_code(c.person.frontend, c.person.chat_id, code)
    except LinkRefused as exc:
        if exc.message.startswith(LOCKED[:20]):
            return c.end(exc.message)
        raise
    return c.end(
        line("This chat is now linked to ", b(account.name), f" <{account.email}>."),
        "Send 'help' to see what you can do.",
    )


class Link(Conversation):
    name = "link"
    summary = "link this chat to your hub account"
    audience: ClassVar[str] = "unlinked"
    frontends = frozenset({"telegram"})
    for_teachers = True
    mutating = False

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self.prefilled(c, arg, "email", ASK_EMAIL)

    def on_email(self, c: Ctx, answer: Answer) -> Reply:
        if not answer.text.strip():
            raise HubError(ASK_EMAIL)
        try:
            said = c.hub.request_link_code(c.person.frontend, c.person.chat_id, answer.text.strip())
        except LinkRefused as exc:
            return c.end(exc.message)
        return c.ask("code", said)

    def on_code(self, c: Ctx, answer: Answer) -> Reply:
        return _verify(c, answer)


class Verify(Link):
    name = "verify"
    summary = "send the code that links this chat"

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self.prefilled(c, arg, "code", ASK_CODE)


class Unlink(Conversation):
    name = "unlink"
    summary = "stop this chat acting for your hub account"
    frontends = frozenset({"telegram"})
    for_teachers = True

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return c.confirm(
            "confirmed",
            "Unlink this chat from your hub account? You can link it again with 'link'.",
            label="Unlink",
        )

    def on_confirmed(self, c: Ctx, answer: Answer) -> Reply:
        c.hub.unlink(c.person.frontend, c.person.chat_id)
        return c.end("This chat is no longer linked to a hub account.")
