"""``hubbot web``: the set-password page and ``/healthz`` on their own, with
no chat front end and no scheduler (those come with ``hubbot run``)."""

from __future__ import annotations

import argparse
import signal
import threading

from bot.app import open_app
from bot.config import Config
from bot.web.app import build_web_app
from bot.web.server import WebServer


def cmd_web(args: argparse.Namespace, cfg: Config) -> int:
    app = open_app(cfg)
    try:
        asgi = build_web_app(app.hub, health=lambda: {"scheduler": "off", "frontends": {}})
        server = WebServer(cfg, asgi)
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        server.start()
        try:
            print(
                f"The set-password page is served on {server.url} "
                f"(links in emails point at {cfg.public_url}/set-password). Ctrl-C to stop.",
                flush=True,
            )
            done.wait()
        finally:
            server.stop()
        return 0
    finally:
        app.close()
