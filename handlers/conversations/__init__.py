"""Every conversation, one module each. :func:`all_conversations` is the
registry the engine runs."""

from __future__ import annotations

from handlers.conversation import Conversation
from handlers.conversations.add import Add
from handlers.conversations.admin import Admin, Unadmin
from handlers.conversations.audit import Audit
from handlers.conversations.delete import Delete
from handlers.conversations.edit import Edit
from handlers.conversations.find import Find, Users
from handlers.conversations.help import Help
from handlers.conversations.import_accounts import Import
from handlers.conversations.link import Link, Unlink, Verify
from handlers.conversations.me import Me
from handlers.conversations.reset import Reset
from handlers.conversations.restore import Restore
from handlers.conversations.show import Show
from handlers.conversations.snooze import Snooze
from handlers.conversations.suspend import Suspend
from handlers.conversations.transfer import Transfer


def all_conversations() -> dict[str, Conversation]:
    """In menu order."""
    conversations: list[Conversation] = [
        Help(),
        Add(),
        Import(),
        Find(),
        Users(),
        Show(),
        Edit(),
        Admin(),
        Unadmin(),
        Suspend(),
        Restore(),
        Transfer(),
        Delete(),
        Reset(),
        Snooze(),
        Audit(),
        Me(),
        Link(),
        Verify(),
        Unlink(),
    ]
    return {c.name: c for c in conversations}
