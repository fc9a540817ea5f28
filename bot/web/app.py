"""The bot's one HTTP application: the set-password page, ``/healthz``, the
static files, and whatever the chat front ends mount on it.

Mounting a front end
--------------------
A front end that needs HTTP (Slack in HTTP mode, Telegram with a webhook)
returns ``{path: asgi_app}`` from ``FrontEnd.http_mounts()``; the runner
passes them all as ``mounts`` to :func:`build_web_app`::

    {"/slack/events": slack_asgi, "/telegram/webhook": telegram_asgi}

- A path like ``/slack/events`` is exact: the app gets every method on that
  path and nothing else, with the scope untouched (``scope["path"]`` is the
  full path). No redirect from ``/slack/events/``: platforms don't follow
  them on POST.
- A path ending in ``/`` (``/slack/``) mounts a subtree: Starlette's
  ``Mount``, so the app sees ``root_path`` set and the rest as its path.
- The app must be a plain ASGI callable ``app(scope, receive, send)``
  (Starlette app, ``AsyncSlackRequestHandler`` wrapped in one, or a bare
  ``async def``). It gets no lifespan events: set it up in the front end's
  ``start()``. It runs on the server's event loop: anything blocking goes to
  ``starlette.concurrency.run_in_threadpool``.
- It is not rate-limited (Slack sends many POSTs from few addresses) and
  checks its own authenticity (Slack signature, Telegram secret token, in
  constant time). It gets the security headers and the access log (path
  only, never the query string) like every response.
- ``/set-password``, ``/healthz``, ``/static/…`` and ``/`` are ours: a mount
  there is refused with ``ValueError`` when the app is built.

Health
------
``health()`` returns a dict such as ``{"scheduler": "running", "frontends":
{"slack": "ok"}}``; the app adds ``"store"`` from its own check that the
store answers. The answer is 200 when every value in it (at any depth) is
``"ok"``, ``"running"`` or ``"off"`` (not part of this process), else 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.web.pages import SetPasswordPage, problem
from bot.web.security import AccessLog, CsrfGuard, RateLimiter, SecurityHeaders
from hub import Hub

log = logging.getLogger("bot.web")

STATIC = Path(__file__).parent / "static"
RESERVED = ("/set-password", "/healthz", "/static")
HEALTHY = frozenset({"ok", "running", "off"})
STORE_CHECK_SECONDS = 3.0

Health = Callable[[], Mapping[str, Any]]


class _Mounted:
    """A front end's ASGI app behind an exact path. The wrapper is a class
    instance so that Starlette hands it the raw ASGI call, even when the app
    is a bare ``async def`` (which Starlette would take for a handler)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def mount_routes(mounts: Mapping[str, ASGIApp]) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for path, app in mounts.items():
        if not path.startswith("/") or path == "/" or "?" in path or "{" in path:
            raise ValueError(f"cannot mount an HTTP endpoint on {path!r}")
        if any(path.rstrip("/") == r or path.startswith(r + "/") for r in RESERVED):
            raise ValueError(f"{path!r} belongs to the set-password page; mount elsewhere")
        if path.endswith("/"):
            routes.append(Mount(path.rstrip("/"), app=app))
        else:
            routes.append(Route(path, endpoint=_Mounted(app)))
    return routes


def _all_healthy(value: Any) -> bool:
    if isinstance(value, Mapping):
        return all(_all_healthy(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_all_healthy(v) for v in value)
    return isinstance(value, str) and value in HEALTHY


def _store_answers(hub: Hub) -> str:
    with hub.store.transaction() as tx:  # raises when the store is closed
        tx.get("_meta", "healthz")
    return "ok"


def build_web_app(
    hub: Hub,
    *,
    mounts: Mapping[str, ASGIApp] | None = None,
    health: Health | None = None,
    post_limit: int = 10,
    post_window: float = 60.0,
    csrf_secret: bytes | None = None,
) -> ASGIApp:
    """The ASGI app of the bot's HTTP server (see the module's notes).

    ``post_limit`` POSTs of the password form per ``post_window`` seconds per
    client address. ``csrf_secret`` defaults to a new random one per
    process. Links in emails are built by the hub from ``HUB_PUBLIC_URL``;
    this app never builds a link from a request's Host header.
    """
    https = hub.public_url.startswith("https://")
    csrf = CsrfGuard(csrf_secret, https=https)
    limiter = RateLimiter(post_limit, post_window)
    set_password = SetPasswordPage(hub, csrf, limiter)

    async def healthz(request: Request) -> JSONResponse:
        report: dict[str, Any] = {}
        try:
            if health is not None:
                report.update(await run_in_threadpool(lambda: dict(health())))
        except Exception:
            log.exception("the health check failed")
            report["health"] = "error"
        try:
            report["store"] = await asyncio.wait_for(
                run_in_threadpool(_store_answers, hub), STORE_CHECK_SECONDS
            )
        except TimeoutError:
            report["store"] = "not answering"
        except Exception as exc:
            report["store"] = f"error: {exc.__class__.__name__}"
        report.setdefault("scheduler", "off")
        report.setdefault("frontends", {})
        ordered = {"store": report.pop("store"), **report}
        return JSONResponse(ordered, status_code=200 if _all_healthy(ordered) else 503)

    async def home(request: Request) -> Response:
        return problem(
            404,
            "School Support Hub",
            "This server hosts the page where you choose your School Support Hub password.",
            "Open it with the link in your invitation or password reset email.",
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        return problem(
            404,
            "Page not found",
            "There is no page at this address.",
            "To choose your password, open the link in your email.",
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        response = problem(
            status,
            "This request can't be handled",
            "The page did not expect this request.",
            "To choose your password, open the link in your email.",
        )
        response.headers.update(getattr(exc, "headers", None) or {})  # Allow: for a 405
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        return problem(
            500,
            "Something went wrong",
            "The page could not finish: nothing was changed.",
            "Try again in a few minutes. If it keeps happening, tell your centre's coordinator.",
        )

    routes: list[BaseRoute] = [
        Route("/", home, methods=["GET"]),
        Route("/set-password", set_password.handle, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        *mount_routes(mounts or {}),
    ]
    starlette = Starlette(
        routes=routes,
        exception_handlers={
            404: not_found,
            HTTPException: http_error,
            Exception: server_error,
        },
    )
    # Starlette would answer "/healthz/" with a redirect built from the
    # request's Host header: no links from Host headers, so a plain 404.
    starlette.router.redirect_slashes = False
    # Outside Starlette's own error middleware, so that a 500 gets the
    # headers and the log line too.
    return SecurityHeaders(AccessLog(starlette), https=https)
