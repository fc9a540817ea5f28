"""Running the HTTP app under uvicorn in a background thread.

``WebServer(config, app).start()`` binds ``HUB_HTTP_HOST:HUB_HTTP_PORT``
itself first, so that an address in use is one clear error at start (and
port 0 picks a free port, for tests), then serves until :meth:`stop`.
uvicorn's access log is off (it would log the query string, and so the
link's token); :class:`~bot.web.security.AccessLog` logs paths only.
uvicorn's loggers propagate to the bot's logging set-up (CR/LF neutralised,
tokens masked) instead of installing their own handlers.
"""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn
from starlette.types import ASGIApp

from bot.config import Config, ConfigError
from bot.web.security import RedactTokens

log = logging.getLogger("bot.web")
_REDACT = RedactTokens()


class WebServerError(ConfigError):
    """The server could not start (address in use, not allowed...): a
    problem with HUB_HTTP_HOST / HUB_HTTP_PORT, shown as one line."""


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise WebServerError(f"The web page can't listen on {host}:{port}: {exc}.") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise WebServerError(
            f"The web page can't listen on {host}:{port}: {reason}. "
            "Set HUB_HTTP_HOST / HUB_HTTP_PORT to a free address."
        ) from None
    sock.set_inheritable(True)
    return sock


class WebServer:
    """uvicorn in a daemon thread: :meth:`start` returns once it serves."""

    def __init__(self, config: Config, app: ASGIApp, *, start_timeout: float = 10.0) -> None:
        self.host = config.http_host
        self.port = config.http_port
        self.app = app
        self.start_timeout = start_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def running(self) -> bool:
        return bool(
            self._server and self._server.started and self._thread and self._thread.is_alive()
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the web server was already started")
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logger = logging.getLogger(name)
            if _REDACT not in logger.filters:
                logger.addFilter(_REDACT)
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # use the bot's logging, not uvicorn's handlers
            access_log=False,  # it would log ?token=…
            server_header=False,
            date_header=True,
            lifespan="off",
            timeout_graceful_shutdown=5,
            timeout_keep_alive=5,
            limit_concurrency=200,
        )
        self._server = uvicorn.Server(config)

        def serve() -> None:
            try:
                assert self._server is not None
                self._server.run(sockets=[sock])
            except BaseException as exc:  # SystemExit from uvicorn included
                self._failure = exc
                log.error("the web server stopped: %s", exc)
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name="web-server", daemon=True)
        self._thread.start()
        # uvicorn sets `started` once it is serving; wait for it or a failure.
        waited = 0.0
        while not self._server.started and self._thread.is_alive() and waited < self.start_timeout:
            self._thread.join(0.02)
            waited += 0.02
        if not self._server.started:
            self.stop()
            reason = f": {self._failure}" if self._failure else ""
            raise WebServerError(f"The web page did not start on {self.url}{reason}.")
        log.info("web page listening on %s", self.url)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():  # a stuck request: stop waiting for it
                assert self._server is not None
                self._server.force_exit = True
                self._thread.join(5)
