"""Errors a person should read.

A :class:`HubError` carries one sentence meant for the coordinator; front ends
show ``str(error)`` as it is. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations


class HubError(Exception):
    """A refusal or a problem, worded for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(HubError):
    """The person may not do this (role, centre, or rule 10)."""


class NotFound(HubError):
    """No such account (in this person's centre)."""


class Invalid(HubError):
    """The input itself is wrong: bad email, empty name, unknown site."""


class Conflict(HubError):
    """The input is fine but the hub's state forbids it (already suspended,
    email taken, data still held)."""


class DataHeld(Conflict):
    """Deleting an account that still owns Progression Test data (rule 6).

    ``sites`` maps each site to the number of items held there, so that a
    conversation can offer the transfer.
    """

    def __init__(self, message: str, sites: dict[str, int]) -> None:
        super().__init__(message)
        self.sites = sites


class LinkInvalid(HubError):
    """A set-password link that is unknown, used or expired. One message for
    all three, so the page gives an attacker nothing to tell them apart."""
