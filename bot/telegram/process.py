"""The Telegram front end in a process of its own (:mod:`bot.telegram.worker`),
as the bot's process sees it: a :class:`bot.frontend.FrontEnd` like any other.

Why: under load the bot is bound by one CPU core, the interpreter lock.
python-telegram-bot's work on an update (fetching, parsing, handlers,
rendering, sending, flood control) is about as much CPU as the engine's and
the store's together; in its own process it runs on the second core. The
store stays in this process, which alone holds its lock: the child asks for
claims and turns over a socket pair (:mod:`bot.link`), and this process
reads them on an event loop of its own and runs each turn in one of two
threads (the child sends a chat's next update only once its turn is
answered, so each chat's updates stay in order).

- ``start`` starts the child and waits for it to reach Telegram; a token
  or webhook Telegram refuses raises :class:`TelegramRefused` as before.
- A child that dies is started again, after 1 s and then up to a minute
  apart while it keeps dying. Meanwhile Telegram keeps the updates (they
  were not confirmed), webhook deliveries get 503 and are retried, and a
  digest push raises, so the digest is sent again on the next retry.
- ``stop`` asks the child to finish the updates in hand and waits for it,
  answering its last calls meanwhile.
- ``TELEGRAM_OWN_PROCESS=false`` keeps the front end in the bot's process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot import metrics
from bot.app import App
from bot.link import Link, LinkClosed, frame
from bot.telegram.core import NAME, LocalCore
from bot.telegram.frontend import PUSH_WAIT, START_WAIT, TelegramRefused, new_event_loop
from bot.telegram.webhook import PATH, WebhookEndpoint
from handlers.engine import Engine
from handlers.replies import Reply

log = logging.getLogger(__name__)

STOP_WAIT = 30.0  # seconds for the child to finish the updates in hand
HEALTH_STALE = 10.0  # a child silent this long is not healthy
RESTART_FIRST, RESTART_MOST = 1.0, 60.0
STEADY_AFTER = 60.0  # a child that ran this long resets the restart delay
# Threads running turns. Inline on the link's loop, one slow turn (a disk
# flush, a wait for the GIL behind Slack's threads) held up every chat, and
# under CPU pressure the queue grew to a second (make load: Telegram p99
# 95-410 ms); two threads kept it at 60-85 ms in the same minutes. More
# threads only add GIL hand-overs.
TURN_THREADS = 2


class TelegramProcess:
    name = NAME

    def __init__(self, app: App, engine: Engine, *, start_wait: float = START_WAIT) -> None:
        config = app.config
        self.core = LocalCore.of(app, engine)
        self.webhook_url = config.telegram_webhook_url
        secret = config.telegram_webhook_secret or secrets.token_urlsafe(32)
        self.config = replace(config, telegram_webhook_secret=secret)
        self.endpoint = WebhookEndpoint(secret, self._forward)
        self.start_wait = start_wait
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._link: Link | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._state: dict[str, Any] = {}
        self._state_at = 0.0
        self._first_state = threading.Event()
        self._refusal: str | None = None  # Telegram refused the token or webhook
        self._lost = threading.Event()  # the child's link has ended
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._spawning = threading.Lock()  # a restart, against stop()
        self._turns: ThreadPoolExecutor | None = None

    @property
    def mode(self) -> str:
        how = "webhook" if self.webhook_url else "long polling"
        return f"{how}, in a process of its own"

    # ----------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._supervisor is not None:
            return
        self._stopping.clear()
        self._first_state.clear()
        self._refusal = None
        self._turns = ThreadPoolExecutor(TURN_THREADS, thread_name_prefix="telegram-turn")
        loop = new_event_loop()
        self._loop = loop
        self._loop_thread = threading.Thread(
            target=loop.run_forever, name="telegram-link", daemon=True
        )
        self._loop_thread.start()
        self._spawn()
        self._supervisor = threading.Thread(
            target=self._supervise, name="telegram-process", daemon=True
        )
        self._supervisor.start()
        self._first_state.wait(self.start_wait + 15)  # the child's own import time too
        if self._refusal:
            self.stop()
            raise TelegramRefused(self._refusal)

    def _spawn(self) -> None:
        assert self._loop is not None
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.telegram.worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=_child_environment(),
            )
        finally:
            theirs.close()
        ours.sendall(frame(("hello", self.config, self.core.command_names)))
        self._lost.clear()
        self._state = {}
        link = Link(self._on_call, self._on_note, self._lost.set)
        asyncio.run_coroutine_threadsafe(link.open(ours), self._loop).result()
        self._link = link

    def _supervise(self) -> None:
        """Wait for the child to end; start it again unless stopping."""
        delay = RESTART_FIRST
        while True:
            began = time.monotonic()
            self._lost.wait()
            self._link = None
            self._state = {}
            self._first_state.set()  # a child that died at once: start() need not wait
            assert self.process is not None
            code = self.process.wait()
            if self._stopping.is_set() or self._refusal:
                return
            if time.monotonic() - began > STEADY_AFTER:
                delay = RESTART_FIRST
            log.error(
                "the Telegram process ended (exit code %s); starting it again in %.0f s",
                code,
                delay,
            )
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, RESTART_MOST)
            with self._spawning:  # stop() sees either no new child or one it can stop
                if self._stopping.is_set():
                    return
                self.restarts += 1
                self._spawn()

    def stop(self) -> None:
        with self._spawning:
            self._stopping.set()
            link, process = self._link, self.process
        if link is not None:
            try:
                link.note_from_thread("stop")
            except ConnectionError:
                pass
        if process is not None:
            try:
                process.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                log.error("the Telegram process did not stop in %.0f s; killing it", STOP_WAIT)
                process.kill()
                process.wait()
        self._lost.wait(5)
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
            self._supervisor = None
        if self._turns is not None:
            self._turns.shutdown(wait=True)  # an upload still being checked finishes first
            self._turns = None
        loop, thread = self._loop, self._loop_thread
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()
            self._loop = self._loop_thread = None

    def healthy(self) -> bool:
        fresh = time.monotonic() - self._state_at < HEALTH_STALE
        return self._link is not None and fresh and bool(self._state.get("healthy"))

    @property
    def running(self) -> bool:
        return self._link is not None and bool(self._state.get("running"))

    # ---------------------------------------------------- the child asks
    def _on_call(self, method: str, args: tuple[Any, ...]) -> Any:
        """On the link's loop. A claim is answered right here; a turn runs
        in one of :data:`TURN_THREADS` threads, so that one turn waiting
        for the disk (a confirmed change), for the GIL, or checking an
        uploaded CSV does not hold up every other chat behind it."""
        if method == "claim":
            return self.core.claim_now(*args)
        if method == "turn":
            return self._in_thread(self.core.turn_now, *args)
        if method == "default_menu":
            return self.core.menu_for(None)
        raise ValueError(f"the bot's process has no {method!r}")

    def _in_thread(self, work: Any, *args: Any) -> Awaitable[Any]:
        assert self._loop is not None and self._turns is not None
        return self._loop.run_in_executor(self._turns, work, *args)

    def _on_note(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind != "state":
            return
        state = dict(args[0])
        for seconds in state.pop("samples", ()):
            metrics.record(seconds, NAME)
        if state.get("refused"):
            self._refusal = str(state["refused"])
        self._state = {**self._state, **state}
        self._state_at = time.monotonic()
        if "running" in state or "refused" in state:
            self._first_state.set()

    # ------------------------------------------------------------- webhook
    def http_mounts(self) -> dict[str, Any]:
        return {PATH: self.endpoint} if self.webhook_url else {}

    async def _forward(self, data: dict[str, Any]) -> bool:
        """The endpoint checked the secret; the child queues the update.
        False (503, Telegram delivers it again) while the child is away."""
        link = self._link
        if link is None or not self.running:
            return False
        try:
            link.note_from_thread("update", data)
        except ConnectionError:
            return False
        return True

    # -------------------------------------------------------- unprompted
    def push(self, chat_id: str, replies: list[Reply]) -> None:
        """Send a digest through the child; raises if it is away or fails."""
        link = self._link
        if link is None or not self.running:
            raise LinkClosed("the Telegram process is starting again; try later")
        link.call_from_thread("push", chat_id, replies, timeout=PUSH_WAIT + 5)

    def find_chat(self, email: str) -> str | None:
        return None  # Telegram cannot look people up; they link their chat themselves


def _child_environment() -> dict[str, str]:
    """Ours, with this code's directory first on the import path: the child
    runs the same code however the bot was started (installed or not)."""
    here = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (here, path) if p)}
