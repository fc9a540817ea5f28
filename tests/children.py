"""Child processes as /proc shows them (and waiting for them), for the tests of front ends that
run in processes of their own (no orphan may outlive the bot's process), and
the bot run as a command by a test."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import pytest

from bot import once

# Settings that would make a bot started by a test talk to a real platform or
# server, or read a developer's own: never passed on from the environment.
_SCRUB = ("TELEGRAM_", "SLACK_", "SMTP_", "HUB_")


def scrubbed_env(**settings: str) -> dict[str, str]:
    """This environment without the bot's settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env.update(settings)
    return env


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """For state that no platform call announces (metrics, processes): the
    first true value ``check`` gives."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return found


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for whoever adopted it to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def runs_module(pid: int, module: str) -> bool:
    """The process was started as ``python -m <module>``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return module.encode() in cmdline


def hear_repeats(caplog: pytest.LogCaptureFixture) -> None:
    """Capture the bot's process dropping repeated deliveries (call it before
    sending them), for :func:`wait_for_repeat`."""
    caplog.set_level(logging.INFO, logger=once.__name__)


def wait_for_repeat(caplog: pytest.LogCaptureFixture, key: str, timeout: float = 10) -> None:
    """Until the claim of ``key`` has turned a repeat away: the signal that
    the repeat was seen and did nothing, not merely that nothing happened
    yet (a repeat on a busy machine can come after any sleep)."""
    dropped = once.IGNORED % key
    wait_until(lambda: dropped in caplog.text, timeout, f"the repeat of {key} to be dropped")


class BotProcess:
    """``python -m bot ARGS`` started by a test (stderr to ``log``), to kill
    it and see its front end's own process leave too. Used as a context
    manager, it leaves neither behind and keeps what the bot wrote to
    stderr in :attr:`stderr`."""

    def __init__(
        self,
        args: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        log: Path,
        stdout: int = subprocess.DEVNULL,
    ) -> None:
        self._log: TextIO = log.open("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=self._log,
            text=True,
        )
        self.worker_pid = 0
        self.stderr = ""

    def worker(self, module: str, timeout: float = 5) -> int:
        """The one child running ``python -m <module>``."""
        found = wait_until(
            lambda: [p for p in children(self.proc.pid) if runs_module(p, module)],
            timeout,
            f"the {module} process",
        )
        assert len(found) == 1, found
        self.worker_pid = found[0]
        return self.worker_pid

    def kill(self) -> None:
        """SIGKILL the bot's process, then wait for its worker to leave."""
        self.proc.kill()
        self.proc.wait(5)
        wait_until(lambda: not alive(self.worker_pid), 5, "the orphaned worker to leave")

    def __enter__(self) -> BotProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.worker_pid and alive(self.worker_pid):
            os.kill(self.worker_pid, signal.SIGKILL)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.seek(0)
        self.stderr = self._log.read()
        self._log.close()
