"""``transfer EMAIL``: move an account's Progression Test data on one site to
another active account of the centre with access to that site (rule 7)."""

from __future__ import annotations

from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Reply, b, line
from hub import Action, HubError
from hub.directory import paginate
from hub.sites import site_name

ASK = "Whose Progression Test data do you want to move? Send the email address or part of the name."
PER_PAGE = 8


class Transfer(Conversation):
    name = "transfer"
    summary = "move Progression Test data to another account"
    needs = Action.TRANSFER

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return self.prefilled(c, arg, "account", ASK)

    def on_account(self, c: Ctx, answer: Answer) -> Reply:
        source = c.account(answer, Action.TRANSFER, step="account", prompt=ASK)
        c.data["from_id"] = source.account_id
        return self._choose_site(c)

    def _choose_site(self, c: Ctx) -> Reply:
        source = c.hub.view(c.actor, c.data["from_id"])
        held = c.hub.data_held(source.account_id).counts
        if not held:
            return c.end(line(b(source.name), " holds no Progression Test data; nothing to move."))
        if len(held) == 1:
            (site,) = held
            c.data["site"] = site
            return self._choose_target(c, 1)
        return c.choose(
            "site",
            line(b(source.name), " holds Progression Test data on two sites. Which one first?"),
            options=[(f"{site_name(s)} ({n})", f"site:{s}") for s, n in held.items()],
        )

    def on_site(self, c: Ctx, answer: Answer) -> Reply:
        if not answer.value or not answer.value.startswith("site:"):
            raise HubError("Please choose one of the sites.")
        c.data["site"] = answer.value[5:]
        return self._choose_target(c, 1)

    def _choose_target(self, c: Ctx, page: int, edit: bool = False) -> Reply:
        site = c.data["site"]
        source = c.hub.view(c.actor, c.data["from_id"])
        targets = c.hub.transfer_targets(c.actor, source.account_id, site)
        if not targets:
            return c.end(
                line("No active account of your centre has access to the ", site_name(site), "."),
                "Give someone access to it first (edit), then transfer. Nothing was changed.",
            )
        n = c.hub.data_held(source.account_id).counts.get(site, 0)
        return c.paged(
            "target",
            line(
                f"Move {n} record(s) on the {site_name(site)} from ",
                b(source.name),
                " to whom? Choose, or send an email address.",
            ),
            paginate(targets, page, PER_PAGE),
            [(a.label, f"acc:{a.account_id}") for a in paginate(targets, page, PER_PAGE).items],
            empty="Nobody can receive the data.",
            edit=edit,
        )

    def on_target(self, c: Ctx, answer: Answer) -> Reply:
        if answer.value and answer.value.startswith("page:"):
            return self._choose_target(c, int(answer.value[5:]), edit=True)
        target = c.account(answer, Action.TRANSFER, step="target", prompt="Send an email address.")
        site = c.data["site"]
        if not target.active or site not in target.sites or target.account_id == c.data["from_id"]:
            raise HubError(
                f"{target.name} can't receive it: the account must be active, have access to the "
                f"{site_name(site)}, and not be the current owner. Choose another."
            )
        c.data["to_id"] = target.account_id
        source = c.hub.view(c.actor, c.data["from_id"])
        n = c.hub.data_held(source.account_id).counts.get(site, 0)
        return c.confirm(
            "confirmed",
            line(f"Move {n} Progression Test record(s) on the {site_name(site)}"),
            line("from ", b(source.name), f" <{source.email}>"),
            line("to ", b(target.name), f" <{target.email}>?"),
            label="Transfer",
        )

    def on_confirmed(self, c: Ctx, answer: Answer) -> Reply:
        moved = c.hub.transfer(c.actor, c.data["from_id"], c.data["site"], c.data["to_id"])
        source = c.hub.view(c.actor, c.data["from_id"])
        target = c.hub.view(c.actor, c.data["to_id"])
        done = line(
            f"Moved {moved} record(s) on the {site_name(c.data['site'])} from ",
            b(source.name),
            " to ",
            b(target.name),
            ". No email was sent.",
        )
        left = c.hub.data_held(source.account_id).counts
        if left:
            remaining = ", ".join(f"{n} on the {site_name(s)}" for s, n in left.items())
            return c.choose(
                "more",
                done,
                line(b(source.name), f" still holds {remaining}. Move that too?"),
                options=[("Transfer the rest", "more")],
            )
        if c.data.get("then") == "delete":
            c.switch("delete", value=f"acc:{source.account_id}")  # carry on with the delete
            return Reply((done,))
        return c.end(done)

    def on_more(self, c: Ctx, answer: Answer) -> Reply:
        if answer.value != "more":
            raise HubError("Press 'Transfer the rest' to move it too, or Cancel.")
        c.data.pop("site", None)
        c.data.pop("to_id", None)
        return self._choose_site(c)
