"""The bot's HTTP server: the set-password page, ``/healthz``, and the
endpoints the chat front ends mount on it (``/slack/events``,
``/telegram/webhook``).

- :func:`build_web_app` makes the ASGI app (see :mod:`bot.web.app` for how a
  front end mounts its endpoint and what ``health`` returns);
- :class:`WebServer` runs it under uvicorn in a background thread
  (``hubbot run``); ``hubbot web`` serves it on its own (:mod:`bot.web.cli`).
"""

from bot.web.app import build_web_app
from bot.web.server import WebServer, WebServerError

__all__ = ["WebServer", "WebServerError", "build_web_app"]
