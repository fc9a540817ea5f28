"""``import``: many accounts at once, from pasted lines or a CSV file
(``name,email,admin,sites``). A preview shows every row's problem before
anything is created; Confirm creates the valid rows (SPEC rule 4)."""

from __future__ import annotations

from handlers import csv_io
from handlers.conversation import Answer, Conversation, Ctx
from handlers.replies import Line, Reply, b, clip, line
from hub import Action, HubError, NewAccount
from hub.sites import site_name

MAX_UPLOAD = 1024 * 1024
ASK = (
    "Send a CSV file with the columns name,email,admin,sites, or paste one person per line: "
    "name, email, admin (yes/no), sites (separated by ;). For example:\n"
    "Jane Smith, jane@school.org, no, primary;forums"
)


class Import(Conversation):
    name = "import"
    summary = "add many accounts from pasted lines or a CSV file"
    aliases = ("bulk",)
    needs = Action.ADD

    def start(self, c: Ctx, arg: Answer) -> Reply:
        return c.ask("rows", ASK)

    def on_rows(self, c: Ctx, answer: Answer) -> Reply:
        drafts = self._read(answer)
        checked = c.hub.check_rows(c.actor, drafts)
        valid = [r for r in checked if r.ok]
        lines: list[Line | str] = [f"{len(checked)} row(s) read; {len(valid)} can be added."]
        for row in checked:
            who = line(
                b(clip(row.draft.name) or "(no name)"), f" <{clip(row.draft.email) or 'no email'}>"
            )
            if row.ok:
                role = "admin" if row.draft.admin else "teacher"
                sites = ", ".join(site_name(s) for s in row.draft.sites)
                lines.append(line(f"✓ row {row.line}: ", *who, f", {role}; {sites}"))
            else:
                lines.append(line(f"✗ row {row.line}: ", *who, ": ", " ".join(row.problems)))
        if not valid:
            return c.ask("rows", *lines, "Nothing can be added. Send corrected rows, or cancel.")
        c.data["drafts"] = [
            {
                "name": r.draft.name,
                "email": r.draft.email,
                "admin": r.draft.admin,
                "sites": list(r.draft.sites),
            }
            for r in valid
        ]
        return c.confirm(
            "confirmed",
            *lines,
            f"Create the {len(valid)} valid account(s)? Rows with problems are left out.",
            label=f"Add {len(valid)} account(s)",
        )

    @staticmethod
    def _read(answer: Answer) -> list[NewAccount]:
        if answer.data is not None:
            name = (answer.filename or "").lower()
            if len(answer.data) > MAX_UPLOAD:
                raise HubError(
                    "That file is too large (at most 1 MB). Split it and send the parts."
                )
            if not name.endswith((".csv", ".txt")):
                raise HubError("Please send a .csv file (saved from a spreadsheet as CSV UTF-8).")
            return csv_io.read_accounts(answer.data)
        text = answer.text.strip()
        if not text:
            raise HubError("Nothing was pasted.")
        if text.lower().startswith("name,") or text.lower().startswith("name;"):
            return csv_io.read_accounts(text)
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) > csv_io.MAX_ROWS:
            raise HubError(f"At most {csv_io.MAX_ROWS} lines at once, please.")
        return [csv_io.parse_pasted_line(ln) for ln in lines]

    def on_confirmed(self, c: Ctx, answer: Answer) -> Reply:
        drafts = [
            NewAccount(d["name"], d["email"], d["admin"], tuple(d["sites"]))
            for d in c.data["drafts"]
        ]
        outcome = c.hub.add_accounts(c.actor, drafts)
        lines: list[Line | str] = [
            f"Added {len(outcome.created)} account(s); an invitation email was sent to each."
        ]
        lines += [line("- ", b(a.name), f" <{a.email}>") for a in outcome.created]
        for draft, reason in outcome.refused:
            lines.append(line("Not added: ", b(draft.name), f" <{draft.email}>: {reason}"))
        return c.end(*lines)
