"""Slack's HTTP mode: the ASGI app for ``/slack/events``, and a small server
for it when the bot's own web server is not running.

The Bolt app is synchronous: each request is dispatched in a worker thread
so the event loop never waits on the store or on Slack. Dispatch returns as
soon as the listener has acknowledged; the work goes on in Bolt's executor.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

import uvicorn
from slack_bolt import App, BoltRequest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Slack's payloads are a few kilobytes


class SlackEvents:
    """ASGI app: a POST from Slack → Bolt (signature checked there)."""

    def __init__(self, bolt: App) -> None:
        self.bolt = bolt

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._answer(request)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        if request.method != "POST":
            return PlainTextResponse("Slack posts here.", status_code=405)
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return PlainTextResponse("Too large.", status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse("Too large.", status_code=413)
        bolt_request = BoltRequest(
            body=body.decode("utf-8", errors="replace"),
            query=request.url.query,
            headers={k: request.headers.getlist(k) for k in request.headers},
        )
        answer = await run_in_threadpool(self.bolt.dispatch, bolt_request)
        return Response(
            content=answer.body,
            status_code=answer.status,
            headers=answer.first_headers_without_set_cookie(),
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class HttpServer:
    """uvicorn in a thread, serving ASGI apps at paths and ``/healthz``."""

    def __init__(
        self,
        host: str,
        port: int,
        mounts: Mapping[str, Any],
        health: Callable[[], bool] | None = None,
    ) -> None:
        async def healthz(request: Request) -> Response:
            ok = health() if health is not None else True
            return JSONResponse({"ok": ok}, status_code=200 if ok else 503)

        routes = [Route(path, endpoint=app, methods=["POST"]) for path, app in mounts.items()]
        routes.append(Route("/healthz", endpoint=healthz, methods=["GET"]))
        self.asgi = Starlette(routes=routes)
        self._socket = _bind(host, port)
        self.host = host
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self.asgi, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=5
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="slack-http"
        )
        self._thread.daemon = True
        self._thread.start()
        waited = 0.0
        while not self._server.started and waited < timeout and self._thread.is_alive():
            threading.Event().wait(0.02)
            waited += 0.02
        if not self._server.started:
            raise OSError(f"the HTTP server on {self.host}:{self.port} did not start")
        log.info("serving Slack's HTTP mode on %s:%s", self.host, self.port)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
