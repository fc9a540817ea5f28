"""Faults injected into the real bot process: ``hubbot console`` run as a child
process on a data directory in ``tmp_path``, fed lines through a pipe.

:class:`ConsoleBot` is one such process: ``send`` writes a line and waits
until the bot's output shows a given fragment; ``feed`` writes many lines at
once; every complete line the bot printed is kept in ``output``. Replies to
one input are printed and flushed together, after the engine has finished
with it: a confirmation that reached the pipe was made after the change was
on disk.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub import Hub
from hub.demo import DEMO_COORDINATOR, ensure_demo
from hub.schema import ACCOUNTS, AUDIT, INDEXES, migrate
from storage.tinydb_store import TinyDBStore

from ..children import scrubbed_env

PYTHON = sys.executable
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def open_store(data_dir: Path) -> TinyDBStore:
    """Open a store as a restarting bot does (replaying the journal)."""
    store = TinyDBStore(data_dir, INDEXES)
    migrate(store)
    return store


def make_demo(data_dir: Path) -> None:
    """A data directory holding the demo centre DEMO01, closed again."""
    store = open_store(data_dir)
    try:
        ensure_demo(Hub(store, public_url="https://hub.example.org"))
    finally:
        store.close()


def accounts_by_email(store: Any) -> dict[str, dict[str, Any]]:
    return {d["email"]: d for d in store.scan(ACCOUNTS)}


def audit_counts(store: Any, action: str) -> dict[str, int]:
    """How many audit entries of ``action`` each account (by id) has."""
    counts: dict[str, int] = {}
    for entry in store.scan(AUDIT):
        if entry.get("action") == action:
            counts[entry["target"]] = counts.get(entry["target"], 0) + 1
    return counts


def child_env(**extra: str) -> dict[str, str]:
    env = scrubbed_env(HUB_PUBLIC_URL="https://hub.example.org", **extra)
    env.pop("PYTHONUNBUFFERED", None)  # the console flushes once per input, as in use
    return env


class ConsoleBot:
    """``python -m bot --data-dir D console --as EMAIL`` with piped stdin."""

    def __init__(
        self,
        data_dir: Path,
        email: str = DEMO_COORDINATOR,
        *,
        cwd: Path | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "bot", "--data-dir", str(data_dir), "console", "--as", email],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd or data_dir.parent,  # no developer's .env is read
            env=child_env(),
            preexec_fn=preexec_fn,
        )
        self.output: list[str] = []  # complete lines only
        self.echo_times: list[float] = []  # when each input's replies arrived
        self.first_output = threading.Event()
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[bytes] = []
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    # ------------------------------------------------------------ reading
    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if not raw.endswith(b"\n"):
                break  # cut by a kill: never counts
            self.first_output.set()
            if raw.startswith(b"> "):
                self.echo_times.append(time.monotonic())
            self._lines.put(raw[:-1].decode("utf-8", errors="replace"))
        self._lines.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr.append(self.proc.stderr.read())

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", errors="replace")

    def _collect(self, done: Callable[[str], bool], timeout: float) -> list[str]:
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no expected reply within {timeout}s; got {got!r}")
            try:
                text = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if text is None:
                raise AssertionError(
                    f"the bot exited ({self.proc.poll()}) after {got!r}\n{self.stderr[-3000:]}"
                )
            self.output.append(text)
            got.append(text)
            if done(text):
                return got

    def drain(self, quiet: float = 0.2) -> list[str]:
        """Whatever else arrives until the output is quiet for ``quiet`` s."""
        got: list[str] = []
        while True:
            try:
                text = self._lines.get(timeout=quiet)
            except queue.Empty:
                return got
            if text is None:
                self._lines.put(None)
                return got
            self.output.append(text)
            got.append(text)

    # ------------------------------------------------------------ writing
    def write(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode("utf-8"))
        self.proc.stdin.flush()

    def send(self, text: str, until: str, timeout: float = 20) -> str:
        """Type one line; return the bot's output up to the line that
        contains ``until`` (and anything flushed with it)."""
        self.write(text + "\n")
        got = self._collect(lambda ln: until in ln, timeout)
        got += self.drain(0.05)
        return "\n".join(got)

    def feed(self, lines: list[str]) -> None:
        """Write many lines at once (the pipe holds them all) without waiting."""
        self.write("".join(f"{ln}\n" for ln in lines))

    # ------------------------------------------------------------ ending
    def kill(self) -> list[str]:
        """SIGKILL; return every complete line the bot printed."""
        self.proc.kill()
        self.proc.wait(timeout=30)
        return self.rest()

    def rest(self) -> list[str]:
        for reader in self._readers:
            reader.join(timeout=30)
        while True:
            text = self._lines.get()
            if text is None:
                return self.output
            self.output.append(text)

    def finish(self, timeout: float = 30) -> int:
        """End of input: the bot should exit by itself."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=timeout)
        self.rest()
        return rc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo centre's data directory, made once; copy it, never change it."""
    path = tmp_path_factory.mktemp("demo-template") / "data"
    make_demo(path)
    return path


@pytest.fixture
def demo_dir(tmp_path: Path, demo_template: Path) -> Path:
    """A fresh copy of the demo data directory for one test."""
    import shutil

    target = tmp_path / "data"
    shutil.copytree(demo_template, target)
    (target / "hub.lock").unlink(missing_ok=True)
    return target


@pytest.fixture
def console() -> Iterator[Callable[..., ConsoleBot]]:
    """Start console bots; every one still running is killed at the end."""
    started: list[ConsoleBot] = []

    def start(data_dir: Path, email: str = DEMO_COORDINATOR, **kwargs: Any) -> ConsoleBot:
        bot = ConsoleBot(data_dir, email, **kwargs)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()
