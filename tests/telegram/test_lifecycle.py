"""A coordinator's whole day in Telegram, as a user would drive it: link the
chat with the emailed code, add a teacher ticking two sites, suspend, delete
refused until the data is transferred, transfer, delete, reset a password.

Set ``TELEGRAM_TRANSCRIPT=path`` to keep the conversation as text.
"""

from __future__ import annotations

import email
import os
import re
from email.policy import default
from pathlib import Path

from bot.mailer import Mailer
from hub.outbox import all_emails

COORDINATOR = "coordinator@demo.school"
CHLOE = "chloe.martin@demo.school"  # 2 Progression Test records on primary
AMIRA = "amira.haddad@demo.school"


def emailed_link_token(data_dir: Path, to: str) -> str:
    """The set-password token in the .eml file sent to ``to``."""
    for path in (data_dir / "outbox").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        if to in str(message["To"]):
            body = message.get_body(preferencelist=("plain",))
            found = re.search(r"token=([A-Za-z0-9_\-]+)", body.get_content())  # type: ignore[union-attr]
            if found:
                return found.group(1)
    raise AssertionError(f"no link emailed to {to}")


def test_a_coordinator_runs_the_whole_lifecycle_from_telegram(
    api, hub_app, bot, user_factory, code_for
) -> None:  # type: ignore[no-untyped-def]
    hub = hub_app.hub
    cora = user_factory(4242, "Cora Ordinator")

    # Not linked yet: only the help to link, and no data.
    out = cora.send("/start")
    assert "not linked to a hub account yet" in out.text
    out = cora.send(f"/show {CHLOE}")
    assert "not linked" in out.text and "Chloé" not in out.text

    # Link with the code from the email.
    out = cora.send(f"/link {COORDINATOR}")
    assert "6-digit code is on its way" in out.text
    Mailer(hub_app.store, hub_app.config).deliver_due()  # the .eml the coordinator reads
    eml = max((hub_app.config.data_dir / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime)
    code = code_for(COORDINATOR)
    assert code in eml.read_text()
    out = cora.send(code)
    assert "This chat is now linked to Cora Ordinator" in out.text
    menu = api.called("setMyCommands")[-1].params
    assert menu["scope"] == {"type": "chat", "chat_id": 4242}
    assert {"add", "delete", "transfer", "cancel"} <= {c["command"] for c in menu["commands"]}

    # Add a teacher, ticking two sites in place.
    out = cora.send("/add")
    assert "full name" in out.text
    cora.send("Tess Teacher")
    out = cora.send("tess@demo.school")
    assert "admin rights" in out.text
    out = cora.press("No, a teacher")
    sites = out.sent[-1]
    assert "⬜ Cambridge Primary support site" in sites.labels()
    out = cora.press("⬜ Cambridge Primary support site")
    assert out.sent == [] and out.edited == [sites]  # the same message, edited
    out = cora.press("⬜ Online discussion forums")
    assert {"✅ Cambridge Primary support site", "✅ Online discussion forums"} <= set(
        sites.labels()
    )
    assert "answerCallbackQuery" in out.methods()
    out = cora.press("Done")
    assert "Tess Teacher <tess@demo.school>, teacher" in out.text
    out = cora.press("Review and confirm")
    out = cora.press("Add 1 account(s)")
    assert "Added 1 account(s)" in out.text
    tess = hub.account_by_email("tess@demo.school")
    assert tess is not None and set(tess.sites) == {"hub", "primary", "forums"}

    # Suspend, then delete: refused until the data is transferred.
    out = cora.send(f"suspend {CHLOE}")
    out = cora.press("Suspend")
    assert "Chloé Martin is suspended" in out.text
    out = cora.send(f"/delete {CHLOE}")
    assert "still owns Progression Test data" in out.text
    assert hub.account_by_email(CHLOE) is not None
    out = cora.press("Transfer data first")
    out = cora.press("Tess Teacher <tess@demo.school>")
    assert "Tess Teacher" in out.text
    out = cora.press("Transfer")
    assert "Moved 2 record(s)" in out.text
    assert len(hub.centre_data("DEMO01")) == 6

    # Back to the deletion: it asks twice, naming the account.
    assert "Delete Chloé Martin <chloe.martin@demo.school>?" in out.text
    out = cora.press("Delete")
    assert "Last check: delete Chloé Martin" in out.text
    out = cora.press("Yes, delete Chloé Martin")
    assert "deleted" in out.text.lower()
    assert hub.account_by_email(CHLOE) is None

    # Reset the password of an account that has one.
    hub.set_password(emailed_link_token(hub_app.config.data_dir, AMIRA), "correct horse battery 42")
    out = cora.send(f"/reset {AMIRA}")
    out = cora.press(out.sent[-1].labels()[0])
    assert "password reset link" in out.text
    assert any(
        e.kind == "password reset" and e.to_email == AMIRA for e in all_emails(hub_app.store)
    )

    # The whole conversation went through these Bot API methods, and no others.
    used = {c.method for c in api.calls}
    assert used == {
        "getMe",
        "deleteWebhook",
        "setMyCommands",
        "getUpdates",
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
    }
    assert all(c.status == 200 for c in api.calls), [c for c in api.calls if c.status != 200]
    transcript = api.transcript()
    print(transcript)
    if os.environ.get("TELEGRAM_TRANSCRIPT"):
        Path(os.environ["TELEGRAM_TRANSCRIPT"]).write_text(transcript + "\n", encoding="utf-8")
