"""The Slack front end (slack-bolt): the ``/hub`` slash command, direct
messages, ``@mentions``, Block Kit buttons and tick boxes, the add-account
modal and the App Home tab. See ``docs/slack.md`` to set it up."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import App
    from bot.slack.frontend import SlackFrontEnd
    from handlers.engine import Engine


def create(app: App, engine: Engine) -> SlackFrontEnd:
    """The Slack front end, built but not started."""
    from bot.slack.core import LocalSlackCore
    from bot.slack.frontend import SlackFrontEnd

    return SlackFrontEnd(app.config, LocalSlackCore.of(app, engine))
