"""A sample centre, DEMO01, with something to try every action on."""

from __future__ import annotations

from datetime import timedelta

from hub import Hub
from hub.accounts import NewAccount
from hub.model import Actor
from hub.progression import DataRow

DEMO_CENTRE = "DEMO01"
DEMO_COORDINATOR = "coordinator@demo.school"

_PEOPLE = [
    NewAccount(
        "Amira Haddad",
        "amira.haddad@demo.school",
        True,
        ("primary", "lower-secondary", "test-maker"),
    ),
    NewAccount(
        "Ben Okafor", "ben.okafor@demo.school", True, ("lower-secondary", "results-analysis")
    ),
    NewAccount("Chloé Martin", "chloe.martin@demo.school", False, ("primary", "resource-plus")),
    NewAccount("Dev Patel", "dev.patel@demo.school", False, ("primary", "forums")),
    NewAccount("Eun-ji Park", "eunji.park@demo.school", False, ("lower-secondary",)),
    NewAccount("Farid Nasser", "farid.nasser@demo.school", False, ("primary", "lower-secondary")),
    NewAccount("Grace Mensah", "grace.mensah@demo.school", False, ("primary",)),
]
_DATA = [
    ("chloe.martin@demo.school", "primary", "Stage 4 English", "4B", "2026-06-12", "28"),
    ("chloe.martin@demo.school", "primary", "Stage 4 Mathematics", "4B", "2026-06-14", "28"),
    ("dev.patel@demo.school", "primary", "Stage 6 Science", "6A", "2026-05-20", "31"),
    (
        "farid.nasser@demo.school",
        "lower-secondary",
        "Stage 8 Mathematics",
        "8C",
        "2026-06-02",
        "26",
    ),
    ("farid.nasser@demo.school", "primary", "Stage 5 Mathematics", "5A", "2026-06-03", "30"),
    ("eunji.park@demo.school", "lower-secondary", "Stage 7 English", "7A", "2026-06-09", "24"),
]


def ensure_demo(hub: Hub) -> bool:
    """Create the demo centre unless it exists; True when it was created.

    Farid Nasser has been suspended for ten days and still owns data on both
    Progression Test sites, so delete, transfer and the reminder all have
    something to show.
    """
    if hub.centre(DEMO_CENTRE) is not None:
        return False
    _, coordinator = hub.create_centre(
        DEMO_CENTRE, "Demo International School", "Cora Ordinator", DEMO_COORDINATOR
    )
    actor = Actor(coordinator.account_id, "demo")
    created = hub.add_accounts(actor, _PEOPLE).created
    hub.import_data(DEMO_CENTRE, [DataRow(*row) for row in _DATA])
    farid = next(a for a in created if a.email == "farid.nasser@demo.school")
    earlier = Hub(
        hub.store, public_url=hub.public_url, clock=lambda: hub.now() - timedelta(days=10)
    )
    earlier.suspend(actor, farid.account_id)
    return True
