"""Who may do what (SPEC "Who may do what" and rule 10), in one place.

:func:`refusal` answers with the sentence to show, or None when allowed. Every
change and every read in the hub goes through it, so no front end or
conversation has to remember a rule.
"""

from __future__ import annotations

from enum import StrEnum

from hub.model import Account, Role


class Action(StrEnum):
    VIEW = "view"  # list, search, view accounts
    ADD = "add"
    EDIT = "edit"  # name, email, sites
    RESET = "reset"  # password reset or invitation resend
    SUSPEND = "suspend"
    RESTORE = "restore"
    TRANSFER = "transfer"
    GRANT_ADMIN = "admin"
    REMOVE_ADMIN = "unadmin"
    DELETE = "delete"
    AUDIT = "audit"


# The permission table, row by row: which roles may take each action at all.
ROLES_FOR: dict[Action, frozenset[Role]] = {
    Action.VIEW: frozenset(Role),  # teachers: own account only (below)
    Action.ADD: frozenset({Role.COORDINATOR, Role.ADMIN}),
    Action.EDIT: frozenset({Role.COORDINATOR, Role.ADMIN}),
    Action.RESET: frozenset(Role),  # teachers: own account only (below)
    Action.SUSPEND: frozenset({Role.COORDINATOR, Role.ADMIN}),
    Action.RESTORE: frozenset({Role.COORDINATOR, Role.ADMIN}),
    Action.TRANSFER: frozenset({Role.COORDINATOR, Role.ADMIN}),
    Action.GRANT_ADMIN: frozenset({Role.COORDINATOR}),
    Action.REMOVE_ADMIN: frozenset({Role.COORDINATOR}),
    Action.DELETE: frozenset({Role.COORDINATOR}),
    Action.AUDIT: frozenset({Role.COORDINATOR, Role.ADMIN}),
}

_WHAT = {
    Action.VIEW: "see other accounts",
    Action.ADD: "add accounts",
    Action.EDIT: "edit accounts",
    Action.RESET: "reset other people's passwords",
    Action.SUSPEND: "suspend accounts",
    Action.RESTORE: "restore accounts",
    Action.TRANSFER: "transfer Progression Test data",
    Action.GRANT_ADMIN: "give admin rights",
    Action.REMOVE_ADMIN: "remove admin rights",
    Action.DELETE: "delete accounts",
    Action.AUDIT: "see the audit log",
}

_ONLY_WHO = {
    frozenset({Role.COORDINATOR}): "Only the centre's coordinator can",
    frozenset({Role.COORDINATOR, Role.ADMIN}): "Only the coordinator and admins can",
}

# Actions a teacher may take on their own account only.
_TEACHER_OWN_ONLY = {
    Action.VIEW: "Teachers can only see their own account.",
    Action.RESET: "Teachers can only reset their own password.",
}
# Rule 10: never on oneself or on the coordinator through the chat.
_NOT_ON_SELF_OR_COORDINATOR = {
    Action.SUSPEND: "suspend",
    Action.DELETE: "delete",
    Action.REMOVE_ADMIN: "remove the admin rights of",
}


def refusal(actor: Account, action: Action, target: Account | None = None) -> str | None:
    """Why ``actor`` may not take ``action`` (on ``target``), or None."""
    if not actor.active:
        return "Your hub account is suspended, so the bot can't act for you."
    if target is not None and target.centre_id != actor.centre_id:
        # Never confirm that an account of another centre exists.
        return "There is no account with that email address in your centre."
    roles = ROLES_FOR[action]
    if actor.role not in roles:
        return f"{_ONLY_WHO[roles]} {_WHAT[action]}; please ask them."
    if target is None:
        return None
    if actor.role is Role.TEACHER and action in _TEACHER_OWN_ONLY:
        if target.account_id != actor.account_id:
            return _TEACHER_OWN_ONLY[action]
    verb = _NOT_ON_SELF_OR_COORDINATOR.get(action)
    if verb:
        if target.account_id == actor.account_id:
            return f"You can't {verb} yourself through the chat."
        if target.role is Role.COORDINATOR:
            return (
                f"You can't {verb} the centre's coordinator; handing the coordinator "
                "role to someone else is done by the hub operator."
            )
    if action is Action.EDIT and actor.role is Role.ADMIN:
        if target.role is not Role.TEACHER and target.account_id != actor.account_id:
            return "Admins can edit teachers' details and their own; ask the coordinator."
    return None


def allowed(actor: Account, action: Action, target: Account | None = None) -> bool:
    return refusal(actor, action, target) is None


def actions_on(actor: Account, target: Account) -> list[Action]:
    """The actions ``actor`` may take on ``target``, for an account card.

    Only permission is considered here; whether the target's state suits the
    action (suspend an active account, restore a suspended one) is the
    card's business, through :func:`state_allows`.
    """
    return [a for a in Action if a not in (Action.ADD, Action.AUDIT) and allowed(actor, a, target)]


def state_allows(action: Action, target: Account) -> bool:
    """Whether the target's current state makes the action meaningful."""
    if action is Action.SUSPEND:
        return target.active
    if action in (Action.RESTORE, Action.DELETE):
        return not target.active
    if action is Action.GRANT_ADMIN:
        return target.role is Role.TEACHER and target.active
    if action is Action.REMOVE_ADMIN:
        return target.role is Role.ADMIN
    if action is Action.RESET:
        return target.active
    return True
