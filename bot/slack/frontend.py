"""The Slack front end as the running process sees it (:class:`bot.frontend.FrontEnd`).

Socket Mode when ``SLACK_APP_TOKEN`` is set; otherwise HTTP mode, where
:meth:`SlackFrontEnd.http_mounts` gives the ASGI app for ``/slack/events``
(signatures checked with ``SLACK_SIGNING_SECRET``; Bolt refuses timestamps
more than five minutes old). ``SLACK_API_URL`` points the Web API client at
another server. The client retries rate-limited calls after ``Retry-After``,
and calls Slack answered with a server error (500, 503) a few times with a
growing pause, about 15 s in all (slack_sdk's default handlers retry
connection errors only): while Slack has trouble, replies arrive late
rather than never.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import RandomJitter

from bot.config import Config, ConfigError
from bot.slack.adapter import SlackAdapter
from bot.slack.core import NAME, SlackCore
from bot.slack.http import SlackEvents, in_this_process
from bot.slack.webclient import KeepAliveWebClient
from handlers.replies import Reply

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 5  # after 0.5, 1, 2, 4 and 8 s (and a little jitter)
WORKERS = 10
_BAD_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}


def make_client(config: Config) -> WebClient:
    kwargs: dict[str, Any] = {}
    if config.slack_api_url:
        kwargs["base_url"] = config.slack_api_url.rstrip("/") + "/"
    handlers = [
        *default_retry_handlers(),
        RateLimitErrorRetryHandler(RATE_LIMIT_RETRIES),
        ServerErrorRetryHandler(
            SERVER_ERROR_RETRIES,
            BackoffRetryIntervalCalculator(backoff_factor=0.5, jitter=RandomJitter()),
        ),
    ]
    return KeepAliveWebClient(
        token=config.slack_bot_token, timeout=30, retry_handlers=handlers, **kwargs
    )


def socket_mode(cfg: Config) -> bool:
    """Socket Mode (else HTTP mode); raises ConfigError if neither is set up."""
    if not cfg.slack_bot_token:
        raise ConfigError("Set SLACK_BOT_TOKEN (xoxb-...) to run the Slack front end.")
    if not cfg.slack_app_token and not cfg.slack_signing_secret:
        raise ConfigError(
            "Set SLACK_SIGNING_SECRET for Slack's HTTP mode (or SLACK_APP_TOKEN for Socket Mode)."
        )
    return bool(cfg.slack_app_token)


def describe_mode(cfg: Config) -> str:
    if cfg.slack_app_token:
        return "Socket Mode"
    return f"HTTP mode at http://{cfg.http_host}:{cfg.http_port}{EVENTS_PATH}"


class TrackingExecutor(ThreadPoolExecutor):
    """The pool the listeners' work runs on (also Bolt's
    ``listener_executor``), counting work in flight:
    :meth:`SlackFrontEnd.stop` lets it finish, and tests wait for it with
    :meth:`wait_idle`. Slack's answer never waits for a free worker: work
    queues here after the acknowledgement."""

    def __init__(self, workers: int = WORKERS) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="slack")
        self._busy = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._idle:
            self._busy += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any] | None) -> None:
        with self._idle:
            self._busy -= 1
            if self._busy == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


class SlackFrontEnd:
    """Bolt, the Web API client and the workers, asking ``core`` for every
    answer (in this process, or the bot's: :mod:`bot.slack.process`)."""

    name = NAME

    def __init__(self, cfg: Config, core: SlackCore) -> None:
        self.socket_mode = socket_mode(cfg)
        self.config = cfg
        self.client = make_client(cfg)
        self.executor = TrackingExecutor()
        self.adapter = SlackAdapter(
            core,
            self.client,
            # Socket Mode requests are not signed: Bolt skips the check for them.
            signing_secret=cfg.slack_signing_secret or "socket-mode",
            executor=self.executor,
        )
        self.bolt = self.adapter.bolt
        self.events = SlackEvents(in_this_process(self.bolt))
        self._socket: SocketModeHandler | None = None
        self._started = False
        self._stopping = threading.Event()
        self._connector: threading.Thread | None = None

    # --------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Check the token, then connect (Socket Mode) in the background."""
        self._stopping.clear()
        try:
            who = self.client.auth_test()
            log.info("Slack: signed in as %s in %s", who.get("user"), who.get("team"))
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error in _BAD_TOKEN:
                raise ConfigError(f"Slack refused SLACK_BOT_TOKEN ({error}).") from None
            log.warning("Slack auth.test failed (%s); carrying on", error)
        except OSError as exc:
            log.warning("Slack is not reachable yet (%s); carrying on", exc)
        if self.socket_mode:
            self._socket = SocketModeHandler(
                self.bolt, app_token=self.config.slack_app_token, web_client=self.client
            )
            self._connector = threading.Thread(
                target=self._connect, name="slack-socket", daemon=True
            )
            self._connector.start()
        self._started = True

    def _connect(self) -> None:
        delay = 2.0
        while not self._stopping.is_set() and self._socket is not None:
            try:
                self._socket.connect()
                log.info("Slack Socket Mode connected")
                return
            except Exception as exc:
                log.warning("Slack Socket Mode connection failed (%s); retrying in %ss", exc, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 60.0)

    def stop(self) -> None:
        self._stopping.set()
        self.adapter.closing = True  # from now on Slack is asked to retry later
        if self._socket is not None:
            try:
                self._socket.close()
            except Exception:
                log.exception("closing the Slack socket failed")
        if self._connector is not None:
            self._connector.join(timeout=5)
        self.executor.wait_idle(timeout=20)  # let replies in flight reach Slack
        self.executor.shutdown(wait=False)
        self._started = False

    def healthy(self) -> bool:
        if not self._started:
            return False
        if self._socket is not None:
            return bool(self._socket.client.is_connected())
        return True

    def http_mounts(self) -> dict[str, Any]:
        return {} if self.socket_mode else {EVENTS_PATH: self.events}

    @property
    def mode(self) -> str:
        return describe_mode(self.config)

    # ---------------------------------------------------------- outbound
    def push(self, chat_id: str, replies: list[Reply]) -> None:
        """Post in the user's DM (chat_id is their Slack user id)."""
        self.adapter.push(chat_id, replies)

    def find_chat(self, email: str) -> str | None:
        try:
            found = self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response is not None and exc.response.get("error") == "users_not_found":
                return None
            raise
        user = found.get("user") or {}
        if user.get("deleted") or user.get("is_bot"):
            return None
        return user.get("id")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once no request is being worked on (tests, shutdown)."""
        return self.executor.wait_idle(timeout)
