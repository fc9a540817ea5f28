"""``edit EMAIL``: change an account's name, email address or sites, then
review and confirm. An invited account whose address changes is invited
again at the new address."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Line, Reply, b, line
from hub import Action, HubError
from hub.sites import CHOOSABLE, normalise_sites, site_name
from hub.validation import check_name

ASK = "Whose details do you want to edit? Send the email address or part of the name."


class Edit(Conversation):
    name = "edit"
    summary = "change an account's name, email or sites"
    needs = Action.EDIT

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self.prefilled(c, arg, "account", ASK)

    def on_account(self, c: Ctx, answer: Answer) -> Reply:
        target = c.account(answer, Action.EDIT, step="account", prompt=ASK)
        c.data.update(account_id=target.account_id, changes={})
        return self._menu(c)

    def _menu(self, c: Ctx) -> Reply:
        target = c.hub.view(c.actor, c.data["account_id"])
        changes = c.data["changes"]
        lines: list[Line | str] = [line("Editing ", b(target.name), f" <{target.email}>.")]
        lines += self._change_lines(changes)
        options = [("Name", "name"), ("Email", "email"), ("Sites", "sites")]
        if changes:
            options.append(("Review and confirm", "review"))
        return c.choose("field", *lines, "What do you want to change?", options=options)

    @staticmethod
    def _change_lines(changes: dict[str, object]) -> list[Line | str]:
        lines: list[Line | str] = []
        if "name" in changes:
            lines.append(line("New name: ", b(changes["name"])))
        if "email" in changes:
            lines.append(line("New email: ", b(changes["email"])))
        if "sites" in changes:
            sites = ", ".join(site_name(s) for s in changes["sites"])  # type: ignore[attr-defined]
            lines.append(line("New sites: ", sites))
        return lines

    def on_field(self, c: Ctx, answer: Answer) -> Reply:
        field = answer.value or answer.text.strip().lower()
        if field == "name":
            return c.ask("name", "What should the name be?")
        if field == "email":
            return c.ask("email", "What should the email address be?")
        if field == "sites":
            target = c.hub.view(c.actor, c.data["account_id"])
            c.data["ticked"] = [
                s for s in c.data["changes"].get("sites", target.sites) if s != "hub"
            ]
            return self._ask_sites(c)
        if field == "review" and c.data["changes"]:
            target = c.hub.view(c.actor, c.data["account_id"])
            return c.confirm(
                "confirmed",
                line("Save these changes to ", b(target.name), "?"),
                *self._change_lines(c.data["changes"]),
                label="Save changes",
            )
        raise HubError("Please choose Name, Email or Sites.")

    def _ask_sites(self, c: Ctx, edit: bool = False) -> Reply:
        return c.tick(
            "sites",
            "Tick the support sites this account should use, then Done.",
            options=[(site_name(s), s) for s in CHOOSABLE],
            ticked=c.data["ticked"],
            edit=edit,
        )

    def on_name(self, c: Ctx, answer: Answer) -> Reply:
        c.data["changes"]["name"] = check_name(answer.text)
        return self._menu(c)

    def on_email(self, c: Ctx, answer: Answer) -> Reply:
        c.data["changes"]["email"] = c.hub.check_new_email(
            c.actor, answer.text, except_id=c.data["account_id"]
        )
        return self._menu(c)

    def on_sites(self, c: Ctx, answer: Answer) -> Reply:
        ticked: list[str] = c.data["ticked"]
        if answer.value and answer.value.startswith("tick:"):
            site = answer.value[5:]
            c.data["ticked"] = (
                [s for s in ticked if s != site] if site in ticked else [*ticked, site]
            )
            return self._ask_sites(c, edit=True)
        if answer.value != "done":
            ticked = normalise_sites(answer.text)
        c.data["changes"]["sites"] = normalise_sites(ticked)
        return self._menu(c)

    def on_confirmed(self, c: Ctx, answer: Answer) -> Reply:
        changes = c.data["changes"]
        account, emailed = c.hub.edit_account(
            c.actor,
            c.data["account_id"],
            name=changes.get("name"),
            email=changes.get("email"),
            sites=changes.get("sites"),
        )
        said = f"Emails sent: {', '.join(emailed)}." if emailed else "No email was sent."
        return c.end(line("Saved the changes to ", b(account.name), f" <{account.email}>."), said)
