"""The answers that reveal something (is this address taken? who could
receive this data?) are given only to those who may act on them."""

from __future__ import annotations

import pytest

from hub import NotAllowed, NotFound


def test_only_those_who_may_add_learn_whether_an_address_is_taken(centre) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    assert hub.check_new_email(centre.actor("admin"), "new.person@riverside.school")
    with pytest.raises(NotAllowed):
        hub.check_new_email(centre.actor("teacher"), "ada@riverside.school")


def test_only_those_who_may_transfer_see_who_could_receive(centre, other_centre) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    targets = hub.transfer_targets(centre.actor("admin"), centre.teacher.account_id, "primary")
    assert centre.teacher.account_id not in {a.account_id for a in targets}
    assert {a.account_id for a in targets} >= {centre.admin.account_id}
    with pytest.raises(NotAllowed):
        hub.transfer_targets(centre.actor("teacher2"), centre.teacher.account_id, "primary")
    stranger = hub.account(other_centre.coordinator.account_id)
    with pytest.raises(NotFound):
        hub.transfer_targets(centre.actor(stranger), centre.teacher.account_id, "primary")
