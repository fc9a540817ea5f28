"""The add-account modal and the App Home tab, as Block Kit views."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.slack.render import context, escape, plain_label, section
from hub import Account, Role
from hub.sites import CHOOSABLE, site_name
from hub.validation import MAX_EMAIL, MAX_NAME

ADD_CALLBACK = "hub_add_account"
HOME_ADD = "home_add"
HOME_COMMAND = "home_cmd_"
VALUE = "value"  # the action_id of every input of the modal


# ------------------------------------------------------------------- modal
def _input(block_id: str, label: str, element: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": {**element, "action_id": VALUE},
        **extra,
    }


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": plain_label(text)}, "value": value}


def add_modal(coordinator: bool, name: str = "", email: str = "") -> dict[str, Any]:
    """Name, email, admin (asked of the coordinator only) and the sites."""
    name_input: dict[str, Any] = {"type": "plain_text_input", "max_length": MAX_NAME}
    if name:
        name_input["initial_value"] = name[:MAX_NAME]
    email_input: dict[str, Any] = {
        "type": "plain_text_input",
        "max_length": MAX_EMAIL,
        "placeholder": {"type": "plain_text", "text": "jane.smith@school.org"},
    }
    if email:
        email_input["initial_value"] = email[:MAX_EMAIL]
    blocks = [
        _input("name", "Full name", name_input),
        _input("email", "Email address", email_input),
    ]
    if coordinator:
        no, yes = _option("No, a teacher", "no"), _option("Yes, admin", "yes")
        blocks.append(
            _input(
                "admin",
                "Admin rights",
                {"type": "radio_buttons", "options": [no, yes], "initial_option": no},
                hint={
                    "type": "plain_text",
                    "text": "Admins can add accounts and edit teachers' details.",
                },
            )
        )
    blocks.append(
        _input(
            "sites",
            "Support sites",
            {"type": "checkboxes", "options": [_option(site_name(s), s) for s in CHOOSABLE]},
            optional=True,
            hint={
                "type": "plain_text",
                "text": "The School Support Hub itself is always included.",
            },
        )
    )
    return {
        "type": "modal",
        "callback_id": ADD_CALLBACK,
        "title": {"type": "plain_text", "text": "Add an account"},
        "submit": {"type": "plain_text", "text": "Add"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def read_add_form(view: dict[str, Any]) -> tuple[str, str, bool, list[str]]:
    """(name, email, admin, sites) as submitted."""
    values = (view.get("state") or {}).get("values") or {}

    def value(block: str) -> dict[str, Any]:
        return (values.get(block) or {}).get(VALUE) or {}

    name = value("name").get("value") or ""
    email = value("email").get("value") or ""
    admin = ((value("admin").get("selected_option") or {}).get("value")) == "yes"
    sites = [o["value"] for o in value("sites").get("selected_options") or []]
    return name, email, admin, sites


# -------------------------------------------------------------------- home
_COUNTS = (
    ("active", "Active"),
    ("suspended", "Suspended"),
    ("pending_deletion", "Pending deletion"),
    ("invitations_pending", "Invitations pending"),
)
# (label, command typed, conversation that must be allowed)
_ADMIN_ACTIONS = (
    ("Find accounts", "find", "find"),
    ("Suspended accounts", "users suspended", "users"),
    ("Invitations pending", "users pending", "users"),
    ("Audit log", "audit", "audit"),
    ("Help", "help", "help"),
)
_TEACHER_ACTIONS = (
    ("My account", "me", "me"),
    ("Reset my password", "reset", "reset"),
    ("Help", "help", "help"),
)


def _home(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "home", "blocks": blocks}


def _header() -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": "School Support Hub"}}


def home_refused(text: str) -> dict[str, Any]:
    return _home([_header(), section(escape(text))])


def home_view(
    account: Account,
    centre_name: str,
    counts: dict[str, int] | None,
    allowed: Iterable[str],
    remind_after_days: int = 7,
) -> dict[str, Any]:
    """The centre's counts and buttons for the common actions (for a
    teacher: their own account's buttons only)."""
    allowed = set(allowed)
    blocks: list[dict[str, Any]] = [
        _header(),
        section(
            f"Hello *{escape(account.name)}*: {escape(account.role.value)} at "
            f"*{escape(centre_name)}*."
        ),
    ]
    buttons: list[dict[str, Any]] = []
    if counts is not None and account.role is not Role.TEACHER:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{label}*\n{counts.get(key, 0)}"}
                    for key, label in _COUNTS
                ],
            }
        )
        blocks.append(
            context(
                f"Pending deletion: suspended for {remind_after_days} days or more. "
                "Open an account's card with 'show' to act on it."
            )
        )
        if "add" in allowed:
            buttons.append(
                {
                    "type": "button",
                    "action_id": HOME_ADD,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Add an account"},
                    "value": "add",
                }
            )
        actions = _ADMIN_ACTIONS
    else:
        blocks.append(section(f"Your account: *{escape(account.email)}*."))
        actions = _TEACHER_ACTIONS
    for label, typed, needs in actions:
        if needs in allowed:
            buttons.append(
                {
                    "type": "button",
                    "action_id": f"{HOME_COMMAND}{len(buttons)}",
                    "text": {"type": "plain_text", "text": label},
                    "value": typed,
                }
            )
    if buttons:
        blocks.append({"type": "actions", "block_id": "home_actions", "elements": buttons})
    blocks.append(
        context(
            "Answers come in your direct messages with me. You can also type "
            "`/hub` followed by a command, such as `/hub suspend jane@school.org`."
        )
    )
    return _home(blocks)
