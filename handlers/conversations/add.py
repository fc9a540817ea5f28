"""``add``: one or more accounts, question by question, then one summary and
Confirm. ``add Jane Smith jane@school.org`` asks only what is missing.

For each person: name, email (checked at once: syntax, and unused across the
hub and this list), admin yes/no (asked of the coordinator only), sites as
tick boxes; then "add another?".
"""

from __future__ import annotations

from typing import Any

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Line, Reply, b, line
from hub import Action, HubError, NewAccount, Role
from hub.sites import CHOOSABLE, normalise_sites, site_name
from hub.validation import check_name, email_key


def parse_one_line(text: str) -> dict[str, str]:
    """``Jane Smith jane@school.org`` → name and email; either may be absent."""
    words = text.split()
    at = next((i for i, w in enumerate(words) if "@" in w), None)
    if at is None:
        return {"name": " ".join(words)} if words else {}
    found = {"email": words[at]}
    if words[:at]:
        found["name"] = " ".join(words[:at])
    return found


def summary_line(draft: dict[str, Any]) -> Line:
    role = "admin" if draft.get("admin") else "teacher"
    sites = ", ".join(site_name(s) for s in draft["sites"])
    return line(b(draft["name"]), f" <{draft['email']}>, {role}; sites: {sites}")


class Add(Conversation):
    name = "add"
    summary = "add one or more accounts"
    aliases = ("new", "invite")
    needs = Action.ADD

    def start(self, c: Ctx, arg: Answer) -> Reply:
        c.data.update(drafts=[], cur={})
        problems: list[str] = []
        for field, value in parse_one_line(arg.text).items():
            try:
                self._take(c, field, value)
            except HubError as exc:
                problems.append(exc.message)
        reply = self._next(c)
        if problems:
            return Reply((*[line(p) for p in problems], *reply.lines), reply.buttons, reply.ticks)
        return reply

    # --------------------------------------------------------- the questions
    def _next(self, c: Ctx) -> Reply:
        cur = c.data["cur"]
        if "name" not in cur:
            return c.ask("name", "What is the new person's full name?")
        if "email" not in cur:
            return c.ask("email", line("What is ", b(cur["name"]), "'s email address?"))
        if "admin" not in cur:
            assert c.me is not None
            if c.me.role is not Role.COORDINATOR:
                cur["admin"] = False  # only the coordinator gives admin rights
            else:
                return c.choose(
                    "admin",
                    line("Give ", b(cur["name"]), " admin rights?"),
                    "Admins can add accounts and edit teachers' details.",
                    options=[("No, a teacher", "no"), ("Yes, admin", "yes")],
                )
        if "sites" not in cur:
            return self._ask_sites(c, cur.get("ticked", []))
        return c.choose(
            "more",
            line("Ready: ", *summary_line(cur)),
            "Add another person, or review and confirm?",
            options=[("Add another", "another"), ("Review and confirm", "review")],
        )

    def _ask_sites(self, c: Ctx, ticked: list[str], edit: bool = False) -> Reply:
        return c.tick(
            "sites",
            line("Which support sites should ", b(c.data["cur"]["name"]), " use?"),
            "Tick each one, then Done. The School Support Hub itself is always included.",
            options=[(site_name(s), s) for s in CHOOSABLE],
            ticked=ticked,
            edit=edit,
        )

    def _take(self, c: Ctx, field: str, value: str) -> None:
        if field == "name":
            c.data["cur"]["name"] = check_name(value)
        elif field == "email":
            email = c.hub.check_new_email(c.actor, value)
            if any(email_key(d["email"]) == email_key(email) for d in c.data["drafts"]):
                raise HubError(f"{email} is already in this list.")
            c.data["cur"]["email"] = email

    def on_name(self, c: Ctx, answer: Answer) -> Reply:
        self._take(c, "name", answer.text)
        return self._next(c)

    def on_email(self, c: Ctx, answer: Answer) -> Reply:
        self._take(c, "email", answer.text)
        return self._next(c)

    def on_admin(self, c: Ctx, answer: Answer) -> Reply:
        value = answer.value or answer.text.strip().lower()
        if value not in ("yes", "no", "y", "n"):
            raise HubError("Please answer yes or no.")
        c.data["cur"]["admin"] = value.startswith("y")
        return self._next(c)

    def on_sites(self, c: Ctx, answer: Answer) -> Reply:
        cur = c.data["cur"]
        ticked: list[str] = cur.setdefault("ticked", [])
        if answer.value and answer.value.startswith("tick:"):
            site = answer.value[5:]
            cur["ticked"] = [s for s in ticked if s != site] if site in ticked else [*ticked, site]
            return self._ask_sites(c, cur["ticked"], edit=True)
        if answer.value != "done":
            ticked = [s for s in normalise_sites(answer.text) if s != "hub"]  # typed list
        cur["sites"] = normalise_sites(ticked)
        cur.pop("ticked", None)
        return self._next(c)

    def on_more(self, c: Ctx, answer: Answer) -> Reply:
        choice = answer.value or answer.text.strip().lower()
        if choice not in ("another", "review"):
            raise HubError("Please choose 'Add another' or 'Review and confirm'.")
        c.data["drafts"].append(c.data["cur"])
        c.data["cur"] = {}
        if choice == "another":
            return self._next(c)
        drafts = c.data["drafts"]
        return c.confirm(
            "confirmed",
            f"Add {len(drafts)} account(s)? Each will be emailed an invitation to set a password.",
            *[summary_line(d) for d in drafts],
            label=f"Add {len(drafts)} account(s)",
        )

    def on_confirmed(self, c: Ctx, answer: Answer) -> Reply:
        drafts = [
            NewAccount(d["name"], d["email"], bool(d["admin"]), tuple(d["sites"]))
            for d in c.data["drafts"]
        ]
        outcome = c.hub.add_accounts(c.actor, drafts)
        lines: list[Line | str] = []
        if outcome.created:
            lines.append(
                f"Added {len(outcome.created)} account(s); an invitation email was sent to each:"
            )
            lines += [line("- ", b(a.name), f" <{a.email}>") for a in outcome.created]
        for draft, reason in outcome.refused:
            lines.append(line("Not added: ", b(draft.name), f" <{draft.email}>: {reason}"))
        return c.end(*lines)
