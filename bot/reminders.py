"""The daily digest of suspended accounts waiting for deletion (SPEC
"Reminders"): for each centre, one digest to its coordinator and admins, on
every chat they have linked, else by email.

The once-a-day rule rests on the hub's claim (``Hub.claim_digest``), written
before anything is sent: a restart, a second ``hubbot remind --now`` or two
overlapping runs find the claim and send nothing. A failed delivery to one
person is recorded and retried later; it never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.frontend import FrontEnd
from handlers.engine import Engine
from handlers.replies import Button, ButtonKind, Line, Reply, b, line
from hub import Account, Hub, PendingDeletion
from hub.reminders import digest_line

log = logging.getLogger(__name__)
BUTTONS_FOR = 8  # accounts that get buttons in one digest; the rest are listed


@dataclass
class DigestReport:
    """What one run did, for ``hubbot remind --now`` and the logs."""

    sent: list[str] = field(default_factory=list)  # "DEMO01: Cora Ordinator by telegram"
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"sent    {s}" for s in self.sent]
        out += [f"failed  {s}" for s in self.failed]
        out += [f"skipped {s}" for s in self.skipped]
        return out or ["No centre has suspended accounts waiting for deletion."]


def digest_reply(
    engine: Engine, recipient: Account, centre_name: str, pending: list[PendingDeletion]
) -> Reply:
    """The digest as a neutral reply; its buttons start conversations for
    this recipient only, with permissions checked when pressed."""
    lines: list[Line] = [
        line(
            "Good morning ",
            b(recipient.name),
            f". {len(pending)} suspended account(s) at ",
            b(centre_name),
            " are waiting for deletion:",
        ),
    ]
    lines += [line("• ", digest_line(p)) for p in pending]
    offered: list[tuple[str, str, str, ButtonKind]] = []  # (label, conversation, value, kind)
    for p in pending[:BUTTONS_FOR]:
        a = p.account
        value = f"acc:{a.account_id}"
        offered.append((f"Delete {a.name}", "delete", value, "danger"))
        if p.data.total:
            offered.append((f"Transfer data of {a.name}", "transfer", value, "choice"))
        offered.append((f"Restore {a.name}", "restore", value, "choice"))
        offered.append((f"Snooze {a.name} 7 days", "snooze", value, "nav"))
    starts = [(name, value) for _, name, value, _ in offered]
    tokens = engine.launchers(recipient.account_id, starts)
    buttons = [
        Button(label, token, kind)
        for (label, _, _, kind), token in zip(offered, tokens, strict=True)
    ]
    if len(pending) > BUTTONS_FOR:
        lines.append(
            line(f"…and {len(pending) - BUTTONS_FOR} more: send 'find suspended' to see them all.")
        )
    return Reply(tuple(lines), tuple(buttons))


class DigestSender:
    def __init__(
        self,
        hub: Hub,
        engine: Engine,
        frontends: Mapping[str, FrontEnd],
        *,
        remind_after_days: int = 7,
        live: Mapping[str, FrontEnd] | None = None,
    ) -> None:
        """``frontends``: platforms whose linked chats receive digests.
        ``live``: sessions that show the digest as well but are not links
        (the console of ``hubbot run``), keyed by account id."""
        self.hub = hub
        self.engine = engine
        self.frontends = frontends
        self.remind_after_days = remind_after_days
        self.live = live or {}

    def run(self, day: date) -> DigestReport:
        report = DigestReport()
        for centre_id in self.hub.centre_ids():
            pending = self.hub.pending_deletion(centre_id, self.remind_after_days)
            if not pending:
                continue
            if not self.hub.claim_digest(centre_id, day):
                report.skipped.append(f"{centre_id}: today's digest was already sent")
                continue
            for recipient in self.hub.digest_recipients(centre_id):
                self._deliver(centre_id, day, recipient, pending, report)
        return report

    def retry_failed(self, day: date) -> DigestReport:
        """Deliver again to the recipients whose delivery failed earlier."""
        report = DigestReport()
        for centre_id, recipient_id in self.hub.failed_deliveries(day):
            recipient = self.hub.account(recipient_id)
            pending = self.hub.pending_deletion(centre_id, self.remind_after_days)
            if recipient is None or not recipient.active or not pending:
                self.hub.record_delivery(centre_id, day, recipient_id, "dropped")
                continue
            self._deliver(centre_id, day, recipient, pending, report)
        return report

    def _deliver(
        self,
        centre_id: str,
        day: date,
        recipient: Account,
        pending: list[PendingDeletion],
        report: DigestReport,
    ) -> None:
        centre = self.hub.centre(centre_id)
        centre_name = centre.name if centre else centre_id
        chats = [(p, c) for p, c in self.hub.chats_of(recipient.account_id) if p in self.frontends]
        if not chats and "slack" in self.frontends:
            found = self._slack_lookup(recipient)
            if found:
                chats = [("slack", found)]
        via: list[str] = []
        errors: list[str] = []
        reply = digest_reply(self.engine, recipient, centre_name, pending)
        for platform, chat_id in chats:
            try:
                self.frontends[platform].push(chat_id, [reply])
                via.append(platform)
            except Exception as exc:  # one person's failure never stops the others
                log.warning(
                    "digest for %s to %s on %s failed: %s",
                    centre_id,
                    recipient.account_id,
                    platform,
                    exc,
                )
                errors.append(f"{platform}: {exc.__class__.__name__}")
        if not chats:
            self.hub.email_digest(recipient, pending)
            via.append("email")
        live = self.live.get(recipient.account_id)
        if live is not None:
            live.push(recipient.account_id, [reply])
        who = f"{centre_id}: {recipient.name} <{recipient.email}>"
        if via:
            self.hub.record_delivery(
                centre_id, day, recipient.account_id, "sent by " + ", ".join(via)
            )
            report.sent.append(f"{who} by {', '.join(via)}")
        if errors and not via:
            self.hub.record_delivery(
                centre_id, day, recipient.account_id, "failed: " + "; ".join(errors)
            )
            report.failed.append(f"{who} ({'; '.join(errors)}); will retry")

    def _slack_lookup(self, recipient: Account) -> str | None:
        try:
            found = self.frontends["slack"].find_chat(recipient.email)
        except Exception as exc:
            log.warning("Slack lookup for %s failed: %s", recipient.account_id, exc)
            return None
        if found:
            self.hub.remember_chat("slack", found, recipient.account_id)
        return found


def local_day(now: datetime, tz) -> date:  # type: ignore[no-untyped-def]
    return now.astimezone(tz).date()
