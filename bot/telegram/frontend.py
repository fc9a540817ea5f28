"""The Telegram front end as the running process sees it (:class:`bot.frontend.FrontEnd`).

python-telegram-bot's :class:`~telegram.ext.Application` runs in a thread of
its own with its own event loop, so ``start`` and ``stop`` return to the
process that composes the bot (web server, scheduler, outbox).

- Long polling by default; a webhook when ``TELEGRAM_WEBHOOK_URL`` is set,
  registered with a secret token (``TELEGRAM_WEBHOOK_SECRET``, or a random
  one made at each start) that the endpoint from :meth:`http_mounts` checks.
- ``TELEGRAM_API_BASE_URL`` points the bot at another Bot API server.
- A refused token (or a webhook address Telegram refuses) is a setting to
  fix: :meth:`start` raises :class:`TelegramRefused`. A network failure at
  start is logged and retried in the background.
- Bot API calls go over aiohttp (:class:`bot.telegram.http.AiohttpRequest`),
  cheaper in CPU than python-telegram-bot's httpx.
- The token is never logged: the requests never log their URLs (which
  contain it), httpx, which does, is kept at WARNING wherever it is used,
  and python-telegram-bot's DEBUG chatter at INFO.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import BadRequest, InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ExtBot

from bot.app import App
from bot.config import Config, ConfigError
from bot.link import new_event_loop
from bot.telegram.adapter import ALLOWED_UPDATES, Adapter
from bot.telegram.core import NAME, Core, LocalCore
from bot.telegram.http import AiohttpRequest
from bot.telegram.limits import FloodControl
from bot.telegram.processing import Finished, PerChatOrder
from bot.telegram.webhook import PATH, WebhookEndpoint
from handlers.engine import Engine
from handlers.replies import Reply

log = logging.getLogger(__name__)

START_WAIT = 30.0  # seconds start() waits for the first attempt to connect
PUSH_WAIT = 120.0


class TelegramRefused(ConfigError):
    """Telegram refused a setting (the token, the webhook address)."""


def api_urls(base: str) -> tuple[str, str]:
    """``TELEGRAM_API_BASE_URL`` (``http://localhost:8081``) → the bot's
    method and file URLs, to which python-telegram-bot appends the token."""
    base = base.rstrip("/")
    base = base.removesuffix("/bot")
    return f"{base}/bot", f"{base}/file/bot"


def quiet_http_logs() -> None:
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    ptb = logging.getLogger("telegram")
    if ptb.getEffectiveLevel() < logging.INFO:  # its DEBUG lines carry URLs and texts
        ptb.setLevel(logging.INFO)


class _PollRequest(AiohttpRequest):
    """The getUpdates connection, noting when it last worked (health)."""

    last_ok: float | None = None

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code == 200:
            self.last_ok = time.monotonic()
        return code, payload


class TelegramFrontEnd:
    name = NAME

    def __init__(
        self,
        config: Config,
        core: Core,
        *,
        poll_timeout: float = 25.0,
        flood: FloodControl | None = None,
        start_wait: float = START_WAIT,
        retry_start_every: float = 10.0,
        around_loop: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        """``around_loop()`` is entered first thing on the front end's event
        loop and left last (a front end in a process of its own keeps its
        link to the bot's process open there)."""
        if not config.telegram_bot_token:
            raise ConfigError("Set TELEGRAM_BOT_TOKEN to run the Telegram front end.")
        self.config = config
        self.core = core
        self.poll_timeout = poll_timeout
        self.flood = flood or FloodControl()
        self.start_wait = start_wait
        self.retry_start_every = retry_start_every
        self.around_loop = around_loop
        self.webhook_url = config.telegram_webhook_url
        self.webhook_secret = config.telegram_webhook_secret or secrets.token_urlsafe(32)
        self.adapter = Adapter(core)
        self.finished = Finished()
        self.endpoint = WebhookEndpoint(self.webhook_secret, self._accept_from_webhook)
        self.application: Application | None = None  # type: ignore[type-arg]
        self._poll_request: _PollRequest | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._attempted = threading.Event()
        self._stop_requested = threading.Event()
        self._running = False
        self._started_at = 0.0
        self._warned_poll_at = -1e9
        self._fatal: Exception | None = None
        quiet_http_logs()
        if self.webhook_url and not urlsplit(self.webhook_url).path.rstrip("/").endswith(PATH):
            log.warning(
                "TELEGRAM_WEBHOOK_URL does not end in %s, where the bot listens; "
                "make sure a proxy forwards it there",
                PATH,
            )

    # ------------------------------------------------------------ building
    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "long polling"

    def _builder(self) -> ApplicationBuilder:  # type: ignore[type-arg]
        builder = Application.builder().token(self.config.telegram_bot_token)
        if self.config.telegram_api_base_url:
            method_url, file_url = api_urls(self.config.telegram_api_base_url)
            builder = builder.base_url(method_url).base_file_url(file_url)
        return builder

    def build(self) -> Application:  # type: ignore[type-arg]
        self._poll_request = _PollRequest(
            connection_pool_size=2, read_timeout=self.poll_timeout + 10, connect_timeout=10
        )
        builder = (
            self._builder()
            .request(AiohttpRequest(connection_pool_size=64, read_timeout=20, connect_timeout=10))
            .get_updates_request(self._poll_request)
            .rate_limiter(self.flood)
            # Every chat's updates in flight at once (each chat still in
            # order): an update waiting for its chat's flood limit must not
            # hold up other chats' updates behind a small pool of slots.
            .concurrent_updates(PerChatOrder(512, self.finished))
            .job_queue(None)
        )
        if self.webhook_url:
            builder = builder.updater(None)
        application = builder.build()
        self.adapter.install(application)
        return application

    # ----------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start in a thread; wait for the first attempt to reach Telegram.
        Raises :class:`TelegramRefused` when Telegram refuses the token."""
        if self._thread is not None:
            return
        self._stop = asyncio.Event()  # set from stop(), through the loop
        self._stop_requested.clear()
        self._attempted.clear()
        self._fatal = None
        self._thread = threading.Thread(target=self._run, name="telegram", daemon=True)
        self._thread.start()
        self._attempted.wait(self.start_wait)
        if self._fatal is not None:
            self._thread.join(timeout=10)
            raise self._fatal

    def _run(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except Exception:  # never silent: a dead thread is a dead bot
            log.exception("the Telegram front end stopped")
        finally:
            self._running = False
            self._attempted.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        assert self._stop is not None
        if self._stop_requested.is_set():  # stop() came before the loop was there
            self._stop.set()
        if self.around_loop is None:
            await self._serve()
            return
        async with self.around_loop():
            await self._serve()

    async def _serve(self) -> None:
        assert self._stop is not None
        self.application = self.build()
        while not self._stop.is_set():
            try:
                await self._startup()
                break
            except InvalidToken:
                self._fatal = TelegramRefused(
                    "Telegram refused TELEGRAM_BOT_TOKEN; check it with @BotFather."
                )
                await self._shutdown()
                return
            except BadRequest as exc:  # e.g. setWebhook: "HTTPS url must be provided"
                self._fatal = TelegramRefused(f"Telegram refused the webhook set-up: {exc}")
                await self._shutdown()
                return
            except TelegramError as exc:
                log.warning(
                    "Telegram is not reachable (%s); trying again in %.0f s",
                    exc,
                    self.retry_start_every,
                )
                self._attempted.set()
                await self._shutdown()
                try:
                    await asyncio.wait_for(self._stop.wait(), self.retry_start_every)
                except TimeoutError:
                    pass
        self._running = not self._stop.is_set()
        self._started_at = time.monotonic()
        self._attempted.set()
        if self._running:
            log.info("Telegram front end running (%s)", self.mode)
            await self._stop.wait()
        self._running = False
        await self._shutdown()

    async def _startup(self) -> None:
        application = self.application
        assert application is not None
        await application.initialize()  # getMe: a refused token fails here
        await self.adapter.set_default_menu(application.bot)
        if self.webhook_url:
            await application.bot.set_webhook(
                self.webhook_url,
                secret_token=self.webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
            )
        else:
            assert application.updater is not None
            await application.updater.start_polling(
                poll_interval=0.0,
                timeout=timedelta(seconds=self.poll_timeout),
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
                error_callback=self._polling_error,
            )
        await application.start()

    async def _shutdown(self) -> None:
        application = self.application
        if application is None:
            return
        try:
            if application.updater is not None and application.updater.running:
                await application.updater.stop()  # confirms the updates fetched so far
            if application.running:
                await application.stop()  # finishes the updates in hand
            await application.shutdown()
            # After a failed initialize() (getMe refused or unreachable),
            # Application.shutdown() leaves the bot alone: close its requests'
            # connections anyway (a no-op when they are closed already). The
            # next attempt's initialize() opens them again.
            await application.bot.shutdown()
        except Exception:
            log.exception("stopping the Telegram front end")
        # The webhook stays registered: Telegram keeps updates until we are back.

    def _polling_error(self, exc: TelegramError) -> None:
        """python-telegram-bot retries with back-off; one warning per outage
        (and a reminder every few minutes) is enough."""
        now = time.monotonic()
        last_ok = self._poll_request.last_ok if self._poll_request else None
        new_outage = last_ok is not None and last_ok > self._warned_poll_at
        if new_outage or now - self._warned_poll_at > 300:
            self._warned_poll_at = now
            log.warning("polling Telegram for updates failed (%s); retrying", exc)
        else:
            log.debug("polling Telegram failed again: %s", exc)

    def stop(self) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        self._stop_requested.set()
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop has just closed
                pass
        thread.join(timeout=30)
        self._thread = None

    def healthy(self) -> bool:
        if not self._running or self.application is None or not self.application.running:
            return False
        if self.webhook_url:
            return True
        polled = self._poll_request.last_ok if self._poll_request else None
        last = max(polled or 0.0, self._started_at)  # a long poll may not have ended yet
        return time.monotonic() - last < self.poll_timeout + 60

    @property
    def running(self) -> bool:
        return self._running

    @property
    def alive(self) -> bool:
        """Its thread is there: running, starting or retrying to start."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def fatal(self) -> Exception | None:
        """Why Telegram refused to start (the token, the webhook), if it did."""
        return self._fatal

    # ------------------------------------------------------------- webhook
    def http_mounts(self) -> dict[str, Any]:
        return {PATH: self.endpoint} if self.webhook_url else {}

    async def _accept_from_webhook(self, data: dict[str, Any]) -> bool:
        """Called on the web server's loop: hand the update to ours."""
        future = self.accept(data)
        if future is None:
            return False
        await asyncio.wrap_future(future)
        return True

    def accept(self, data: dict[str, Any]) -> Future[None] | None:
        """From any thread: queue an update (a webhook's body) on our loop;
        None while the bot is not running (Telegram delivers it again)."""
        loop, application = self._loop, self.application
        if not self._running or loop is None or application is None:
            return None

        async def enqueue() -> None:
            try:
                update = Update.de_json(data, application.bot)
            except Exception as exc:  # authentic but unreadable: drop it, do not loop
                log.warning("a Telegram update could not be read: %s", exc.__class__.__name__)
                return
            await application.update_queue.put(update)

        return asyncio.run_coroutine_threadsafe(enqueue(), loop)

    # -------------------------------------------------------- unprompted
    def push(self, chat_id: str, replies: list[Reply]) -> None:
        """Send replies (a reminder digest) to a chat; raises on failure."""
        loop = self._loop
        if self._running and loop is not None and self.application is not None:
            future = asyncio.run_coroutine_threadsafe(self.push_here(chat_id, replies), loop)
            future.result(timeout=PUSH_WAIT)
            return
        asyncio.run(self._push_alone(int(chat_id), replies))

    async def push_here(self, chat_id: str, replies: list[Reply]) -> None:
        """:meth:`push`, awaited on the front end's own loop."""
        application = self.application
        if not self._running or application is None:
            raise ConnectionError("the Telegram front end is not running")
        await self.adapter.deliver(application.bot, int(chat_id), replies)

    async def _push_alone(self, chat_id: int, replies: Sequence[Reply]) -> None:
        """Without a running bot (``hubbot remind --now``): a bot of its own."""
        kwargs: dict[str, Any] = {}
        if self.config.telegram_api_base_url:
            kwargs["base_url"], kwargs["base_file_url"] = api_urls(
                self.config.telegram_api_base_url
            )
        bot = ExtBot(
            self.config.telegram_bot_token,
            request=AiohttpRequest(connection_pool_size=8, read_timeout=20, connect_timeout=10),
            get_updates_request=AiohttpRequest(connection_pool_size=1),  # unused
            rate_limiter=FloodControl(),
            **kwargs,
        )
        async with bot:
            await self.adapter.deliver(bot, chat_id, replies)

    def find_chat(self, email: str) -> str | None:
        return None  # Telegram cannot look people up; they link their chat themselves


def local(app: App, engine: Engine, **kwargs: Any) -> TelegramFrontEnd:
    """The front end in the process that holds the store."""
    return TelegramFrontEnd(app.config, LocalCore.of(app, engine), **kwargs)


def flood_control(config: Config) -> FloodControl:
    return FloodControl(overall=(config.telegram_max_rate, 1.0))


def create(app: App, engine: Engine) -> TelegramFrontEnd:
    return local(app, engine, flood=flood_control(app.config))
