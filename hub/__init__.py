"""The School Support Hub: centres, accounts, sites, roles, Progression Test
data, the rules and who may do what, tokens and the outbox.

No chat, no platform, no file format here. :class:`Hub` is the one object the
conversations, the front ends and the command line talk to.
"""

from hub.accounts import AddOutcome, CheckedRow, NewAccount
from hub.centres import Centres
from hub.directory import Directory, Page
from hub.errors import Conflict, DataHeld, HubError, Invalid, LinkInvalid, NotAllowed, NotFound
from hub.links import ChatLinks, LinkRefused
from hub.model import Account, Actor, AuditEntry, Centre, DataItem, Role, Status
from hub.passwords import Passwords
from hub.permissions import Action
from hub.progression import DataRow, Progression
from hub.reminders import PendingDeletion, Reminders


class Hub(Centres, Directory, Progression, Passwords, ChatLinks, Reminders):
    """Every operation of the hub; see the mixins for each part."""


__all__ = [
    "Account",
    "Action",
    "Actor",
    "AddOutcome",
    "AuditEntry",
    "Centre",
    "CheckedRow",
    "Conflict",
    "DataHeld",
    "DataItem",
    "DataRow",
    "Hub",
    "HubError",
    "Invalid",
    "LinkInvalid",
    "LinkRefused",
    "NewAccount",
    "NotAllowed",
    "NotFound",
    "Page",
    "PendingDeletion",
    "Role",
    "Status",
]
