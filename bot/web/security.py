"""What protects the pages: security headers on every response, an access
log that never writes a query string, a limit on password POSTs per client
address, and the form's CSRF check.

CSRF: a *signed double-submit cookie*. The GET sets a random nonce in an
HttpOnly, SameSite=Strict cookie (``__Host-`` prefixed and Secure when
``HUB_PUBLIC_URL`` is https) and puts ``HMAC(secret, nonce, link token)`` in
a hidden field. The POST is accepted only when the field matches the cookie
and the token it came with. Another site can neither read nor set our
cookie's value so as to forge a matching field (it would need the secret),
and the HMAC binds the form to one link. The secret is made per process:
nothing to configure, store or leak. A restart makes open forms fail the
check; the page then says to open the emailed link again, which still works
because the link is used only when a password is actually set. A browser's
``Sec-Fetch-Site: cross-site`` on a POST is refused outright as well.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("bot.web")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
STATIC_PREFIX = "/static/"


class SecurityHeaders:
    """Adds the security headers to every response, the mounted front ends'
    included, and ``Cache-Control: no-store`` to everything but the static
    files (a mounted app may set its own Cache-Control)."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if https:
            self.headers["strict-transport-security"] = "max-age=31536000"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
                headers.setdefault(
                    "cache-control", "public, max-age=3600" if static else "no-store"
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessLog:
    """One line per request: client, method, path, status, time. Never the
    query string, which carries the link's token (uvicorn's own access log
    is switched off for that reason)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            client = scope.get("client") or ("-", 0)
            log.info(
                "%s %s %s %d %.0fms",
                client[0],
                scope["method"],
                scope["path"][:200],
                status,
                (time.perf_counter() - started) * 1000,
            )


class RedactTokens(logging.Filter):
    """Belt and braces for uvicorn's loggers: blank any ``token=…``."""

    _TOKEN = re.compile(r"(token=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg = self._TOKEN.sub(r"\1***", message)
            record.args = None
        return True


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds for each key (a client
    address), as a sliding window. Refused hits do not count, so a client
    that waits gets in again. Memory is bounded by ``max_keys``."""

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Record a hit; None when allowed, else the seconds to wait."""
        now = self._clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self._max_keys:
                    self._forget_idle(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1.0, hits[0] + self.window - now)
            hits.append(now)
            return None

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]:
            del self._hits[key]
        while len(self._hits) >= self._max_keys:  # still full: drop the oldest
            del self._hits[next(iter(self._hits))]


_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")


class CsrfGuard:
    """The signed double-submit cookie described at the top of this module."""

    def __init__(self, secret: bytes | None = None, *, https: bool = False) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.https = https
        self.cookie = "__Host-hub_csrf" if https else "hub_csrf"

    def nonce(self, request: Request) -> tuple[str, bool]:
        """The browser's nonce, or a new one (True when it must be set), so
        that two tabs open on the page do not spoil each other's form."""
        current = request.cookies.get(self.cookie, "")
        if _NONCE.fullmatch(current):
            return current, False
        return secrets.token_urlsafe(32), True

    def field(self, nonce: str, token: str) -> str:
        message = nonce.encode() + b"\0" + hashlib.sha256(token.encode()).digest()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def set_cookie(self, response: Response, nonce: str) -> None:
        response.set_cookie(
            self.cookie,
            nonce,
            path="/",
            secure=self.https,
            httponly=True,
            samesite="strict",
        )

    def check(self, request: Request, token: str, field: str) -> bool:
        if request.headers.get("sec-fetch-site", "") == "cross-site":
            return False
        nonce = request.cookies.get(self.cookie, "")
        if not _NONCE.fullmatch(nonce) or not field:
            return False
        return hmac.compare_digest(self.field(nonce, token), field)
