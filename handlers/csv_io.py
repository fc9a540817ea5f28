"""Account and Progression Test CSV files, read and written.

Shared by the ``import`` conversation and the ``hubbot users``/``data``
commands. Reading accepts UTF-8 with or without the BOM Excel writes;
writing quotes per RFC 4180 and neutralises cells a spreadsheet would run as
a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from hub.accounts import NewAccount
from hub.errors import Invalid
from hub.model import Account, DataItem
from hub.progression import DataRow

ACCOUNT_COLUMNS = ("name", "email", "admin", "sites")
EXPORT_COLUMNS = ("name", "email", "role", "status", "sites", "invitation_pending")
DATA_COLUMNS = ("owner_email", "site", "title", "class", "date", "results")
MAX_ROWS = 5000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
_YES = {"yes", "y", "true", "1", "admin", "x"}
_NO = {"no", "n", "false", "0", ""}


def decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(
            "The file is not UTF-8 text. Save it as 'CSV UTF-8' (Excel) or UTF-8 and try again."
        ) from None


def _rows(
    text: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    if "\0" in text:
        raise Invalid("The file contains binary data; send a CSV text file.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise Invalid(
            f"The first line must name the columns {','.join(required + optional)}; "
            f"missing: {', '.join(missing)}."
        )
    reader.fieldnames = header
    rows = []
    for row in reader:
        if not any((v or "").strip() for k, v in row.items() if k is not None):
            continue  # blank line
        rows.append({k: (v or "").strip() for k, v in row.items() if k is not None})
        if len(rows) > MAX_ROWS:
            raise Invalid(f"The file has more than {MAX_ROWS} rows; split it into smaller files.")
    if not rows:
        raise Invalid("The file has a header but no rows.")
    return rows


def parse_admin(value: str) -> bool:
    text = value.strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise Invalid(f"admin must be yes or no, not {value!r}.")


def read_accounts(data: bytes | str) -> list[NewAccount]:
    """Rows of ``name,email,admin,sites`` (admin and sites optional).

    An unreadable admin cell is kept as a problem for the preview rather than
    failing the whole file: the bad row is shown and the good ones survive.
    """
    rows = _rows(decode(data), ("name", "email"), ("admin", "sites"))
    return [_draft(r["name"], r["email"], r.get("admin", ""), r.get("sites", "")) for r in rows]


def _draft(name: str, email: str, admin: str, sites: str) -> NewAccount:
    codes = tuple(s for s in sites.replace(";", ",").replace("|", ",").split(",") if s.strip())
    try:
        return NewAccount(name, email, parse_admin(admin), codes)
    except Invalid as exc:
        return NewAccount(name, email, False, codes, read_problem=exc.message)


def parse_pasted_line(line: str) -> NewAccount:
    """``Jane Smith, jane@school.org, yes, primary;forums`` or
    ``Jane Smith jane@school.org``: a name, an address, then optional admin
    and sites, separated by commas or tabs."""
    if "," in line or "\t" in line:
        parts = [p.strip() for p in next(csv.reader([line.replace("\t", ",")]))]
    else:
        words = line.split()
        at = next((i for i, w in enumerate(words) if "@" in w), len(words))
        parts = [" ".join(words[:at]), *words[at:]]
    while len(parts) < 4:
        parts.append("")
    name, email, admin, sites = parts[0], parts[1], parts[2], ",".join(parts[3:])
    if admin and admin.strip().lower() not in _YES | _NO:
        # "name, email, primary;forums": no admin column given
        admin, sites = "", ",".join(p for p in parts[2:] if p)
    return _draft(name, email, admin, sites)


def neutralise(cell: str) -> str:
    """Keep a spreadsheet from running a cell as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def write_accounts(accounts: Iterable[Account]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for a in accounts:
        writer.writerow(
            neutralise(v)
            for v in (
                a.name,
                a.email,
                a.role.value,
                a.status.value,
                ";".join(a.sites),
                "yes" if a.invitation_pending else "no",
            )
        )
    return out.getvalue()


def read_data(data: bytes | str) -> list[DataRow]:
    return [
        DataRow(
            r["owner_email"],
            r["site"],
            r["title"],
            r.get("class", ""),
            r.get("date", ""),
            r.get("results", "") or "0",
        )
        for r in _rows(decode(data), ("owner_email", "site", "title"), ("class", "date", "results"))
    ]


def write_data(items: Iterable[tuple[DataItem, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(DATA_COLUMNS)
    for item, owner_email in items:
        writer.writerow(
            neutralise(str(v))
            for v in (owner_email, item.site, item.title, item.class_name, item.date, item.results)
        )
    return out.getvalue()
