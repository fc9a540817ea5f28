"""The commands that run the bot: ``run``, ``console`` and the front ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def register(add: Callable[..., Any]) -> None:
    """Add the running commands to the ``hubbot`` parser."""
