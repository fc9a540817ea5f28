"""A chat front end in a process of its own, both sides of it.

Why: under load the bot is bound by the interpreter lock. A platform's own
work on a message (Bolt's or python-telegram-bot's parsing, middleware,
rendering, HTTP calls) is more CPU than the engine's and the store's
together; in a child process it runs beside them instead of taking turns
for one lock. The store stays in the bot's process, which alone holds its
lock: the child asks for what only that process can answer over a socket
pair (:mod:`bot.link`).

:class:`ChildProcess` is the bot's side, a :class:`bot.frontend.FrontEnd`:

- ``start`` starts the child and waits for it to reach the platform; a
  credential the platform refuses raises the front end's usual error.
- A child that dies is started again, after 1 s and then up to a minute
  apart while it keeps dying. Meanwhile the platform keeps its deliveries
  (unconfirmed updates, Slack's retries), forwarded HTTP deliveries get 503
  and are retried, and a digest push raises, so it is sent again later.
- ``stop`` asks the child to finish what it holds and waits for it,
  answering its last calls meanwhile.
- The child's calls are read on an event loop of this side's own; the
  slow ones run in a few threads, so one turn waiting for the disk or for
  the interpreter lock does not hold up every other chat.

:class:`ChildWorker` is the child's side, run by :func:`serve`: the first
message on the link is ``("hello", config, *extra)``; the child then
reports ``("note", "state", {...})`` once started (``running``, or
``refused`` with the platform's reason) and every :data:`REPORT_EVERY`
seconds (its health check and the latency samples gathered meanwhile). It
stops on the note ``stop`` or on SIGTERM, finishing what it holds. When the
bot's process goes away it leaves at once: a child never outlives its
parent, and what it had not finished stays with the platform to deliver
again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bot import metrics
from bot.link import Link, LinkClosed, frame, new_event_loop, receive_one

log = logging.getLogger(__name__)

START_WAIT = 30.0  # seconds start() waits for the child to reach the platform
STOP_WAIT = 30.0  # seconds for the child to finish what it holds
HEALTH_STALE = 10.0  # a child silent this long is not healthy
RESTART_FIRST, RESTART_MOST = 1.0, 60.0
STEADY_AFTER = 60.0  # a child that ran this long resets the restart delay
REPORT_EVERY = 0.5  # seconds between the child's state reports
# Threads running the child's slow calls (turns). Inline on the link's loop,
# one slow turn (a disk flush, a wait for the GIL) held up every chat, and
# under CPU pressure the queue grew to a second (make load: Telegram p99
# 95-410 ms); two threads kept it at 60-85 ms in the same minutes. More
# threads only add GIL hand-overs.
TURN_THREADS = 2


class ChildProcess:
    """The bot's side of a front end's child process (see the module)."""

    name: str  # the platform, as FrontEnd.name
    module: str  # run as ``python -m <module> FD``
    refused: type[Exception]  # what start() raises when the platform refuses
    turn_threads = TURN_THREADS

    def __init__(self, *, start_wait: float = START_WAIT) -> None:
        self.start_wait = start_wait
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._link: Link | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._state: dict[str, Any] = {}
        self._state_at = 0.0
        self._first_state = threading.Event()
        self._refusal: str | None = None  # the platform refused the credentials
        self._lost = threading.Event()  # the child's link has ended
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._spawning = threading.Lock()  # a restart, against stop()
        self._turns: ThreadPoolExecutor | None = None

    # ------------------------------------------------- for the subclass
    def hello(self) -> tuple[Any, ...]:
        """What the child is told first: ``(config, *extra)``."""
        raise NotImplementedError

    def answer(self, method: str, args: tuple[Any, ...]) -> Any:
        """On the link's loop: the answer to the child's call (a value, or an
        awaitable: see :meth:`in_thread`)."""
        raise NotImplementedError

    # ----------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._supervisor is not None:
            return
        self._stopping.clear()
        self._first_state.clear()
        self._refusal = None
        self._turns = ThreadPoolExecutor(self.turn_threads, thread_name_prefix=f"{self.name}-turn")
        loop = new_event_loop()
        self._loop = loop
        self._loop_thread = threading.Thread(
            target=loop.run_forever, name=f"{self.name}-link", daemon=True
        )
        self._loop_thread.start()
        self._spawn()
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"{self.name}-process", daemon=True
        )
        self._supervisor.start()
        self._first_state.wait(self.start_wait + 15)  # the child's own import time too
        if self._refusal:
            self.stop()
            raise self.refused(self._refusal)

    def _spawn(self) -> None:
        assert self._loop is not None
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=_child_environment(),
            )
        finally:
            theirs.close()
        ours.sendall(frame(("hello", *self.hello())))
        self._lost.clear()
        self._state = {}
        link = Link(self.answer, self._on_note, self._lost.set)
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
                "the %s process ended (exit code %s); starting it again in %.0f s",
                self.name.capitalize(),
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
                log.error(
                    "the %s process did not stop in %.0f s; killing it",
                    self.name.capitalize(),
                    STOP_WAIT,
                )
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
    def in_thread(self, work: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        """Run a slow answer in one of the turn threads."""
        assert self._loop is not None and self._turns is not None
        return self._loop.run_in_executor(self._turns, work, *args)

    def _on_note(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind != "state":
            return
        state = dict(args[0])
        for seconds in state.pop("samples", ()):
            metrics.record(seconds, self.name)
        if state.get("refused"):
            self._refusal = str(state["refused"])
        self._state = {**self._state, **state}
        self._state_at = time.monotonic()
        if "running" in state or "refused" in state:
            self._first_state.set()

    # ------------------------------------------------------- we ask it
    def live_link(self) -> Link:
        """The link to a running child; raises :class:`LinkClosed` while it
        is away (starting, or starting again)."""
        link = self._link
        if link is None or not self.running:
            raise LinkClosed(f"the {self.name.capitalize()} process is starting again; try later")
        return link

    def call_child(self, method: str, *args: Any, timeout: float) -> Any:
        """From a thread: the child's answer (raises while it is away)."""
        return self.live_link().call_from_thread(method, *args, timeout=timeout)

    async def call_child_here(self, method: str, *args: Any) -> Any:
        """From another event loop (the web server's): the child's answer."""
        link = self.live_link()
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(link.call(method, *args), self._loop)
        return await asyncio.wrap_future(future)


class Samples:
    """Latency samples taken in a child, sent with its next state report
    (the parent's ``/metrics`` counts them)."""

    def __init__(self) -> None:
        self._samples: list[float] = []
        self._lock = threading.Lock()

    def observe(self, started: float) -> None:
        elapsed = metrics.now() - started
        with self._lock:
            self._samples.append(elapsed)

    def take(self) -> list[float]:
        with self._lock:
            taken, self._samples = self._samples, []
        return taken


class ChildWorker:
    """The child's side: the link, the state reports, stopping and leaving."""

    name: str
    refused: type[Exception]  # begin() raises it when the platform refuses

    def __init__(self) -> None:
        self.link = Link(self.on_call, self.on_note, self.on_lost)
        self.samples = Samples()
        self.stopping = threading.Event()

    # ------------------------------------------------- for the subclass
    def begin(self) -> None:
        """Start the front end. Raises :attr:`refused`, after telling the
        bot's process why, to end this one."""
        raise NotImplementedError

    def end(self) -> None:
        """Stop the front end, finishing what it holds."""
        raise NotImplementedError

    def alive(self) -> bool:
        return True

    def healthy(self) -> bool:
        raise NotImplementedError

    def on_call(self, method: str, args: tuple[Any, ...]) -> Any:
        raise ValueError(f"the {self.name.capitalize()} process has no {method!r}")

    def note(self, kind: str, args: tuple[Any, ...]) -> None:
        """A note from the bot's process other than ``stop``."""

    # ------------------------------------------------------------ shared
    def on_note(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind == "stop":
            self.stopping.set()
        else:
            self.note(kind, args)

    def on_lost(self) -> None:
        if self.stopping.is_set():
            return
        # The bot's process has gone without asking us to stop (killed).
        # Leave at once: stopping politely could confirm to the platform
        # deliveries not yet handled, and they would be lost; unconfirmed,
        # the platform delivers them again to the next bot.
        log.error("the bot's process has gone; the %s process leaves too", self.name.capitalize())
        os._exit(3)

    def report(self, **extra: Any) -> None:
        state = {"healthy": self.healthy(), "samples": self.samples.take(), **extra}
        self.link.note_from_thread("state", state)

    def run(self) -> int:
        try:
            self.begin()
        except self.refused:
            return 2  # the parent has been told why
        self.report(running=True)
        while not self.stopping.wait(REPORT_EVERY):
            try:
                if not self.alive():  # it failed, and said why in the log
                    raise ConnectionError(f"the {self.name} front end has stopped")
                self.report()
            except ConnectionError:
                return 1  # the parent starts a new process
        self.end()  # finishes what it holds, still asking over the link
        return 0


def serve(argv: list[str], make: Callable[..., ChildWorker]) -> int:
    """A child's ``main``: read the hello, set up, run ``make(sock, config,
    *extra)`` until stopped."""
    from bot.app import SWITCH_INTERVAL, setup_logging

    # Ctrl-C reaches the whole process group: the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[1]))
    hello = receive_one(sock)
    if hello is None or hello[0] != "hello":
        return 1
    config, *extra = hello[1:]
    setup_logging(config.log_level)
    sys.setswitchinterval(SWITCH_INTERVAL)
    worker = make(sock, config, *extra)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    return worker.run()


def _child_environment() -> dict[str, str]:
    """Ours, with this code's directory first on the import path: the child
    runs the same code however the bot was started (installed or not)."""
    here = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (here, path) if p)}
