"""A whole life through Slack, on the demo centre: add an account through the
modal with two sites, suspend another, try to delete it (refused until its
Progression Test data moves), transfer the data to the new account, delete,
and reset the new account's password (its invitation is resent)."""

from __future__ import annotations

from hub.demo import DEMO_CENTRE
from hub.schema import AUDIT, OUTBOX

from .conftest import Bot, SlackUser


class Transcript:
    """The user's actions and, under each, what the bot sent to Slack."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.lines: list[str] = []
        self._mark = len(bot.api.calls)

    def __call__(self, action: str) -> None:
        self.lines.append(action)

    def flush(self) -> list[str]:
        said = self.bot.api.transcript(self._mark)
        self._mark = len(self.bot.api.calls)
        self.lines += said
        return said

    def text(self) -> str:
        self.flush()
        return "\n".join(self.lines)


def test_add_suspend_transfer_delete_reset(bot: Bot, cora: SlackUser) -> None:
    hub, api = bot.app.hub, bot.api
    log = Transcript(bot)
    audit_before = bot.app.store.count(AUDIT)

    # ------------------------------------------------ add, through the modal
    log("Cora: /hub add")
    cora.slash("add")
    log.flush()
    (view,) = api.views.values()
    assert view["callback_id"] == "hub_add_account"
    assert [b["block_id"] for b in view["blocks"]] == ["name", "email", "admin", "sites"]

    log("Cora submits the form: name '', email 'jane.smith@', sites primary + lower-secondary")
    refused = cora.submit(view, name="", email="jane.smith@", sites=["primary", "lower-secondary"])
    assert refused.json()["response_action"] == "errors"
    errors = refused.json()["errors"]
    assert set(errors) == {"name", "email"}
    assert "name" in errors["name"] and "not a valid email address" in errors["email"]
    log(f"  bot answers the submission: errors {errors}")
    log("Cora submits again with Amira's address")
    taken = cora.submit(view, name="Jane Smith", email="Amira.Haddad@demo.school")
    assert "already used" in taken.json()["errors"]["email"]
    log(f"  bot answers the submission: errors {taken.json()['errors']}")
    assert hub.account_by_email("jane.smith@demo.school") is None

    log("Cora submits: Jane Smith, jane.smith@demo.school, teacher, primary + lower-secondary")
    added = cora.submit(
        view,
        name="Jane Smith",
        email="jane.smith@demo.school",
        admin=False,
        sites=["primary", "lower-secondary"],
    )
    assert added.status_code == 200 and added.text == ""  # the modal closes
    log.flush()
    jane = hub.account_by_email("jane.smith@demo.school")
    assert jane is not None and jane.centre_id == DEMO_CENTRE
    assert jane.sites == ("hub", "primary", "lower-secondary")
    assert jane.invitation_pending
    assert "Added *Jane Smith*" in cora.last_text()
    invitations = [
        d for d in bot.app.store.scan(OUTBOX) if d["to_email"] == "jane.smith@demo.school"
    ]
    assert len(invitations) == 1

    # ---------------------------------------------------------- suspend
    chloe = hub.account_by_email("chloe.martin@demo.school")
    assert chloe is not None and chloe.active
    log("Cora: /hub suspend chloe.martin@demo.school")
    cora.slash("suspend chloe.martin@demo.school")
    log.flush()
    prompt = cora.last()
    assert "Suspend *Chloé Martin*" in prompt["text"]
    assert hub.account(chloe.account_id).active  # nothing before Confirm
    log("Cora presses [Suspend]")
    cora.press("Suspend", prompt)
    log.flush()
    assert not hub.account(chloe.account_id).active
    assert "is suspended and can no longer log in" in cora.last_text()
    answered = api.messages[(cora.dm, prompt["ts"])]
    assert not [b for b in answered["blocks"] if b["type"] == "actions"]  # nothing to press again
    assert answered["blocks"][-1]["elements"][0]["text"] == "\u2713 Suspend"

    # ------------------------------------- delete, refused until transfer
    log("Cora (direct message): delete chloe.martin@demo.school")
    cora.say("delete chloe.martin@demo.school")
    log.flush()
    assert "still owns Progression Test data (2 on Cambridge Primary support site)" in (
        cora.last_text()
    )
    assert hub.account(chloe.account_id) is not None
    log("Cora presses [Transfer data first]")
    cora.press("Transfer data first")
    log.flush()
    assert "Move 2 record(s) on the Cambridge Primary support site from *Chloé Martin*" in (
        cora.last_text()
    )
    log("Cora presses [Jane Smith <jane.smith@demo.school>]")
    cora.press("Jane Smith <jane.smith@demo.school>")
    log.flush()
    assert hub.data_held(jane.account_id).total == 0  # nothing before Confirm
    log("Cora presses [Transfer]")
    cora.press("Transfer")
    log.flush()
    assert hub.data_held(jane.account_id).counts == {"primary": 2}
    assert hub.data_held(chloe.account_id).total == 0
    assert "Delete *Chloé Martin*" in cora.last_text()  # the delete carries on
    log("Cora presses [Delete]")
    cora.press("Delete")
    log.flush()
    assert "Last check" in cora.last_text()
    assert hub.account(chloe.account_id) is not None
    log("Cora presses [Yes, delete Chloé Martin]")
    cora.press("Yes, delete Chloé Martin")
    log.flush()
    assert hub.account(chloe.account_id) is None
    assert "was deleted" in cora.last_text()

    # ------------------------------------------------------------ reset
    log("Cora: /hub reset jane.smith@demo.school")
    cora.slash("reset jane.smith@demo.school")
    log.flush()
    assert "resend the invitation" in cora.last_text()
    log("Cora presses [Resend invitation]")
    cora.press("Resend invitation")
    log.flush()
    assert "The invitation was sent again to jane.smith@demo.school" in cora.last_text()
    invitations = [
        d for d in bot.app.store.scan(OUTBOX) if d["to_email"] == "jane.smith@demo.school"
    ]
    assert len(invitations) == 2

    # Everything went to Cora's DM, and every change is audited as hers via Slack.
    assert {p["channel"] for p in api.posted()} == {cora.dm}
    entries = sorted(bot.app.store.scan(AUDIT), key=lambda d: d["_key"])[audit_before:]
    assert [e["action"] for e in entries] == [
        "add",
        "suspend",
        "transfer",
        "delete",
        "resend invitation",
    ]
    assert {e["via"] for e in entries} == {"slack:UCORA"}
    print("\n" + log.text())
