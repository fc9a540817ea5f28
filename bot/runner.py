"""One running bot process: the engine, the outbox, the chat front ends, the
web server and the scheduler, started together and stopped together."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping

from bot.app import App
from bot.frontend import FrontEnd
from bot.mailer import Mailer
from bot.reminders import DigestSender
from bot.scheduler import Jobs, Scheduler
from handlers.conversations import all_conversations
from handlers.engine import Engine

log = logging.getLogger(__name__)


def build_engine(app: App, mailer: Mailer | None = None) -> Engine:
    engine = Engine(app.hub, all_conversations())
    if mailer is not None:
        engine.on_change = mailer.wake
    return engine


def make_frontends(
    app: App, engine: Engine, which: tuple[str, ...], *, separate: bool = False
) -> dict[str, FrontEnd]:
    """The configured chat front ends, built but not started. ``separate``:
    each in a process of its own where its setting allows
    (``TELEGRAM_OWN_PROCESS``, ``SLACK_OWN_PROCESS``; :mod:`bot.child`), for
    a running bot; a one-off ``remind --now`` keeps them here."""
    cfg = app.config
    made: dict[str, FrontEnd] = {}
    if "telegram" in which and separate and cfg.telegram_own_process:
        from bot.telegram.process import TelegramProcess

        made["telegram"] = TelegramProcess(app, engine)
    elif "telegram" in which:
        from bot.telegram import create as create_telegram

        made["telegram"] = create_telegram(app, engine)
    if "slack" in which and separate and cfg.slack_own_process:
        from bot.slack.process import SlackProcess

        made["slack"] = SlackProcess(app, engine)
    elif "slack" in which:
        from bot.slack import create as create_slack

        made["slack"] = create_slack(app, engine)
    return made


def configured_platforms(app: App) -> tuple[str, ...]:
    cfg = app.config
    return tuple(
        name
        for name, token in (("telegram", cfg.telegram_bot_token), ("slack", cfg.slack_bot_token))
        if token
    )


class Runner:
    """Starts everything in dependency order; stops it in reverse."""

    def __init__(
        self,
        app: App,
        platforms: tuple[str, ...],
        *,
        web: bool = True,
        scheduler: bool = True,
        live: Mapping[str, FrontEnd] | None = None,
    ) -> None:
        self.app = app
        self.mailer = Mailer(app.store, app.config)
        self.engine = build_engine(app, self.mailer)
        self.frontends = make_frontends(app, self.engine, platforms, separate=True)
        sender = DigestSender(
            app.hub,
            self.engine,
            self.frontends,
            remind_after_days=app.config.remind_after_days,
            live=live,
        )
        self.jobs = Jobs(
            app.config,
            app.hub,
            sender,
            housekeeping=self.engine.expire_idle,
            wake_mailer=self.mailer.wake,
        )
        self.scheduler = Scheduler(self.jobs) if scheduler else None
        self.web = self._web() if web else None
        self._stopped = threading.Event()

    def _web(self):  # type: ignore[no-untyped-def]
        from bot import metrics
        from bot.web import WebServer, build_web_app

        mounts: dict[str, object] = {"/metrics": metrics.asgi}
        for frontend in self.frontends.values():
            mounts.update(frontend.http_mounts())
        asgi = build_web_app(self.app.hub, mounts=mounts, health=self.health)
        return WebServer(self.app.config, asgi)

    def health(self) -> dict[str, object]:
        return {
            "store": "ok",
            "scheduler": "running" if self.scheduler and self.scheduler.running else "stopped",
            "frontends": {n: "ok" if f.healthy() else "down" for n, f in self.frontends.items()},
        }

    def start(self) -> None:
        self.mailer.start()
        if self.web is not None:
            self.web.start()
        for name, frontend in self.frontends.items():
            log.info("starting the %s front end", name)
            frontend.start()
        if self.scheduler is not None:
            self.scheduler.start()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.scheduler is not None:
            self.scheduler.stop()
        for frontend in self.frontends.values():
            try:
                frontend.stop()
            except Exception:
                log.exception("stopping a front end failed")
        if self.web is not None:
            self.web.stop()
        self.mailer.stop()
        self.mailer.deliver_due()

    def wait(self) -> None:
        """Block until SIGINT or SIGTERM."""
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        done.wait()
