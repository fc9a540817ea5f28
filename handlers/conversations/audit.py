"""``audit``: the centre's latest changes, newest first, page by page."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Line, Reply, b, line
from hub import Action, AuditEntry, HubError

PER_PAGE = 10


def entry_line(e: AuditEntry) -> Line:
    via = f" via {e.via}" if e.via else ""
    return line(f"{e.time:%d %b %H:%M}  ", b(e.actor), f"{via}: {e.action} ", b(e.target))


class Audit(Conversation):
    name = "audit"
    summary = "the centre's latest changes"
    aliases = ("log", "history")
    needs = Action.AUDIT
    mutating = False

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self._page(c, 1)

    def _page(self, c: Ctx, page: int, edit: bool = False) -> Reply:
        entries = c.hub.audit_log(c.actor, page=page, per_page=PER_PAGE)
        if not entries.total:
            return c.end("No changes have been recorded for your centre yet.")
        nav = []
        if entries.page > 1:
            nav.append(c.button("Previous", f"page:{entries.page - 1}", "nav"))
        if entries.page < entries.pages:
            nav.append(c.button("Next", f"page:{entries.page + 1}", "nav"))
        if not nav:
            return c.end(*[entry_line(e) for e in entries.items])
        return c.ask(
            "page",
            f"Latest changes, page {entries.page} of {entries.pages}:",
            *[entry_line(e) for e in entries.items],
            buttons=nav,
            edit=edit,
        )

    def on_page(self, c: Ctx, answer: Answer) -> Reply:
        if answer.value and answer.value.startswith("page:"):
            return self._page(c, int(answer.value[5:]), edit=True)
        if answer.text.strip():
            return c.follow(answer)
        raise HubError("Press Next or Previous.")
