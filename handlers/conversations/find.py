"""``find`` / ``users``: search the centre's accounts by part of a name or
email, filter by status and role, 10 a page; each result opens its card."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Reply, b, clip, line
from hub import Action, HubError

FILTERS = {
    "active": ("status", "active"),
    "suspended": ("status", "suspended"),
    "pending": ("status", "pending"),
    "coordinator": ("role", "coordinator"),
    "admin": ("role", "admin"),
    "admins": ("role", "admin"),
    "teacher": ("role", "teacher"),
    "teachers": ("role", "teacher"),
}
FILTER_BUTTONS = [
    ("Everyone", "filter:"),
    ("Active", "filter:active"),
    ("Suspended", "filter:suspended"),
    ("Invitation pending", "filter:pending"),
    ("Admins", "filter:admin"),
    ("Teachers", "filter:teacher"),
]


def parse_query(text: str) -> dict[str, str]:
    """``jane status:suspended role:admin`` (or just ``suspended admins``)."""
    query: dict[str, str] = {"text": ""}
    words = []
    for word in text.split():
        key, sep, value = word.partition(":")
        if sep and key.lower() in ("status", "role"):
            query[key.lower()] = value.lower()
        elif word.lower() in FILTERS:
            kind, value = FILTERS[word.lower()]
            query[kind] = value
        else:
            words.append(word)
    query["text"] = " ".join(words)
    return query


class Find(Conversation):
    name = "find"
    summary = "search accounts by name or email, with filters"
    aliases = ("search",)
    needs = Action.VIEW
    mutating = False

    def start(self, c: Ctx, arg: Answer) -> Reply:
        if arg.text.strip():
            c.data["query"] = parse_query(arg.text)
            return self._results(c, 1)
        return c.choose(
            "query",
            "Who are you looking for? Send part of a name or email address, or choose a filter.",
            options=FILTER_BUTTONS,
        )

    def on_query(self, c: Ctx, answer: Answer) -> Reply:
        if answer.value and answer.value.startswith("filter:"):
            c.data["query"] = parse_query(answer.value[7:])
        else:
            c.data["query"] = parse_query(answer.text)
        return self._results(c, 1)

    def _results(self, c: Ctx, page: int, edit: bool = False) -> Reply:
        q = c.data["query"]
        found = c.hub.search(
            c.actor, q["text"], status=q.get("status"), role=q.get("role"), page=page, per_page=10
        )
        described = (
            " ".join(
                part
                for part in (q["text"] and f"'{clip(q['text'])}'", q.get("status"), q.get("role"))
                if part
            )
            or "everyone"
        )
        return c.paged(
            "results",
            line(
                "Accounts matching ",
                b(described),
                ". Choose one to open its card, or send a new search.",
            ),
            found,
            [
                (f"{a.name} <{a.email}> · {a.status_text()}", f"acc:{a.account_id}")
                for a in found.items
            ],
            empty=f"No account matches {described}.",
            edit=edit,
        )

    def on_results(self, c: Ctx, answer: Answer) -> Reply:
        if answer.value and answer.value.startswith("page:"):
            return self._results(c, int(answer.value[5:]), edit=True)
        if answer.account_id:
            return c.switch("show", value=answer.value)
        if c.names_command(answer):
            return c.follow(answer)
        if not answer.text.strip():
            raise HubError("Choose an account, or send a new search.")
        c.data["query"] = parse_query(answer.text)
        return self._results(c, 1)


class Users(Find):
    name = "users"
    summary = "list the centre's accounts, page by page"
    aliases = ("list",)

    def start(self, c: Ctx, arg: Answer) -> Reply:
        c.data["query"] = parse_query(arg.text)
        return self._results(c, 1)
