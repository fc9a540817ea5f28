"""Putting the parts together: open the store, migrate it, build the hub."""

from __future__ import annotations

import gc
import logging
import re
import sys
from dataclasses import dataclass

from bot.config import Config
from hub import Hub
from hub.schema import INDEXES, migrate
from storage import Store
from storage.tinydb_store import TinyDBStore


@dataclass
class App:
    config: Config
    store: Store
    hub: Hub

    def close(self) -> None:
        self.store.close()


def open_app(config: Config) -> App:
    """Open the configured store (TinyDB today) and the hub on top of it.

    The one place that names a Store implementation: a PostgreSQL store
    would be chosen here from the configuration, and nothing above changes.
    """
    store = TinyDBStore(config.data_dir, INDEXES)
    try:
        migrate(store)
    except Exception:
        store.close()
        raise
    return App(config, store, Hub(store, public_url=config.public_url))


# How long a thread may hold the GIL while another waits for it (Python's
# default is 5 ms). The bot's threads each do a little work and then wait
# (for the network, a journal write); at 5 ms, a step that hands the GIL back
# a few times could wait 5 ms each time for a busy neighbour, which under load
# was most of a Slack reply's p99. 1 ms took it from about 80 ms to 40 ms in
# `make load` for no loss of throughput. With Telegram in a process of its
# own, each of its messages is a round trip to this process's link loop,
# which waits for the GIL on every wake-up: 0.25 ms took Telegram's p99 from
# 96-138 ms to 47-50 ms (0.1 ms was worse again: too much switching).
SWITCH_INTERVAL = 0.00025


def settle(app: App) -> App:
    """For a long-running bot: move everything loaded so far (a large store
    is millions of objects) out of the garbage collector's sight, so that its
    full collections stay short instead of pausing every conversation, and
    let waiting threads have the GIL sooner (:data:`SWITCH_INTERVAL`)."""
    gc.collect()
    gc.freeze()
    if _refreeze not in gc.callbacks:
        gc.callbacks.append(_refreeze)
    sys.setswitchinterval(SWITCH_INTERVAL)
    return app


def _refreeze(phase: str, info: dict[str, int]) -> None:
    """After each full collection, freeze what survived it too. Otherwise
    every full collection walks everything made since start (the store's
    new documents, claims, audit entries) and grows longer as the bot runs:
    91 ms in the third minute of ``make load``, every thread stopped. Frozen
    objects are still freed when nothing refers to them; only a cycle among
    them would stay, and the store's documents hold none."""
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


class _SafeLogFormatter(logging.Formatter):
    """Neutralises CR/LF so user text cannot forge log lines, and hides
    anything that looks like a token in a URL."""

    _TOKEN = re.compile(r"(token=)[^&\s]+|(bot)\d+:[A-Za-z0-9_-]+|xox[abp]-[A-Za-z0-9-]+")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        head, sep, tail = text.partition("\nTraceback")
        head = head.replace("\r", "\\r").replace("\n", "\\n")
        head = self._TOKEN.sub(lambda m: (m.group(1) or m.group(2) or "") + "***", head)
        return head + (sep + tail if sep else "")


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, not the one
    there was at set-up (which tests and embedding programs replace)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # type: ignore[no-untyped-def]
        pass


def setup_logging(level: str = "INFO") -> None:
    handler = _CurrentStderr()
    handler.setFormatter(_SafeLogFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL, and Telegram's URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # APScheduler logs every job run at INFO: noise, even more so in the console.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def quiet_logging_for_console() -> None:
    """The console is the conversation: only warnings interrupt it."""
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))
