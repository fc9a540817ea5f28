"""The app manifest asks for exactly what the front end uses."""

from __future__ import annotations

import re
from pathlib import Path

from bot.slack.adapter import SLASH_COMMAND

MANIFEST = Path(__file__).resolve().parents[2] / "slack-manifest.yaml"


def _items_under(text: str, key: str) -> list[str]:
    """The ``- item`` lines of the YAML list under ``key:``."""
    match = re.search(rf"^(\s*){key}:\s*\n((?:\1\s+(?:- .*|#.*)\n)+)", text, re.M)
    assert match, f"no list under {key}"
    return [m.group(1) for m in re.finditer(r"^\s+- ([^\s#]+)", match.group(2), re.M)]


def test_the_manifest_has_exactly_the_scopes_events_and_command_used() -> None:
    text = MANIFEST.read_text()
    assert sorted(_items_under(text, "bot")) == [
        "app_mentions:read",
        "chat:write",
        "commands",
        "files:read",
        "im:history",
        "im:write",
        "users:read",
        "users:read.email",
    ]
    assert sorted(_items_under(text, "bot_events")) == [
        "app_home_opened",
        "app_mention",
        "message.im",
    ]
    assert f"- command: {SLASH_COMMAND}\n" in text
    assert re.search(r"interactivity:\n\s+is_enabled: true", text)
    assert "home_tab_enabled: true" in text and "messages_tab_enabled: true" in text
    assert "messages_tab_read_only_enabled: false" in text
    assert "socket_mode_enabled: true" in text
    assert "\t" not in text
