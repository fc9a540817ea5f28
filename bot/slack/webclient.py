"""A slack_sdk ``WebClient`` that reuses its HTTP connections.

The stock sync client sends every Web API call through
``urllib.request.urlopen``, which opens a new TCP connection (and, against
slack.com, does a new TLS handshake) per call and closes it afterwards:
about 1 ms of CPU per call on loopback against about 0.2 ms over a reused
``http.client`` connection, plus a handshake per call in production. A Slack
reply costs one to three calls and the bot is CPU-bound under load, so
:class:`KeepAliveWebClient` keeps the connections open between calls.

Only the last step is replaced
(:meth:`~KeepAliveWebClient._perform_urllib_http_request_internal`, one HTTP
exchange); slack_sdk still builds the request and runs its retry handlers
around it, and it sees the same results as from ``urlopen``.
"""

from __future__ import annotations

import http.client
import io
import logging
import select
import ssl
import threading
import urllib.request
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a server that closed an idle kept-alive connection looks like to the
# next request on it. RemoteDisconnected (a ConnectionResetError) means not
# one byte of a status line came back.
_STALE = (
    http.client.RemoteDisconnected,
    BrokenPipeError,
    ConnectionResetError,
    ssl.SSLEOFError,  # the same over TLS
)
# Statuses urllib's default opener follows (for a POST: 301, 302, 303 become
# a GET). The Web API does not redirect; should it, the request is sent again
# through the stock path, which follows (or refuses) the redirect as before.
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

_Key = tuple[str, str, int]


def _dropped(sock: Any) -> bool:
    """Whether an idle connection's socket has something to read, which on a
    connection with no request in flight means the server closed it (or sent
    something we cannot use). The check urllib3 makes before reusing one."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)
    except (OSError, ValueError):
        return True


class KeepAliveWebClient(WebClient):
    """``WebClient`` whose http:// and https:// calls go over pooled
    ``http.client`` connections, keyed by (scheme, host, port).

    The pool is one lock-protected stack of idle connections per key rather
    than a ``threading.local``: Bolt calls the client from a pool of worker
    threads at once, and a shared pool lets any thread reuse a connection
    another left idle, bounds the open connections by the calls in flight
    (at most :attr:`MAX_IDLE` idle ones are kept per key), and lets
    :meth:`close` reach every connection. A connection is used by one call
    at a time: taken from the pool, used for one whole exchange (the answer
    is read to its end), then put back, most recent on top. The lock is held
    only to take or put back, never during I/O.

    Same contract as the stock ``_perform_urllib_http_request_internal``:

    * a 2xx answer gives ``{"status", "headers", "body"}``, ``headers`` the
      ``http.client.HTTPMessage`` of the answer, ``body`` decoded with its
      charset (bytes for ``application/gzip``);
    * any other status raises ``urllib.error.HTTPError`` as ``urlopen``
      does (body readable from it), so slack_sdk's retry handlers (429 with
      ``Retry-After``, connection errors) and its ``SlackApiError`` work as
      before; after a redirect the request is sent again through the stock
      implementation, which follows it;
    * an ``OSError`` while connecting or sending is raised as ``URLError``,
      one while reading the answer as itself (``RemoteDisconnected``,
      ``TimeoutError``...), again as ``urlopen`` does.

    A server may close a connection that sat idle. A connection found closed
    when taken from the pool is dropped. If the server closes it while the
    request goes out (``RemoteDisconnected``, ``BrokenPipeError`` or
    ``ConnectionResetError`` on a reused connection before any byte of an
    answer), the request is sent once more on a new connection; on a new
    connection such an error is raised, and slack_sdk's connection-error
    retry handler decides.

    With a proxy (``proxy=``, or one slack_sdk or urllib finds in the
    environment), or a URL that is neither http nor https, the stock
    implementation runs unchanged (it refuses other schemes).

    Nothing here logs a URL (it may carry a token) or a request header.
    """

    MAX_IDLE = 10

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_lock = threading.Lock()
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._generation = 0  # bumped by close(): older connections are not put back
        self._default_ssl: ssl.SSLContext | None = None

    # ------------------------------------------------------------ exchange
    def _perform_urllib_http_request_internal(
        self, url: str, req: urllib.request.Request
    ) -> dict[str, Any]:
        key = self._key(req)
        if key is None or self.proxy is not None:
            return super()._perform_urllib_http_request_internal(url, req)
        # As urllib sends them, except for "Connection: close".
        headers = dict(req.unredirected_hdrs)
        headers.update({k: v for k, v in req.headers.items() if k not in headers})
        headers = {name.title(): value for name, value in headers.items()}

        answer = self._exchange(key, req, headers)
        if answer is None:  # a proxy for this host in the environment
            return super()._perform_urllib_http_request_internal(url, req)
        resp, data = answer
        status, message = resp.status, resp.msg
        if status in _REDIRECTS:
            return super()._perform_urllib_http_request_internal(url, req)
        if not 200 <= status < 300:
            raise HTTPError(req.full_url, status, resp.reason, message, io.BytesIO(data))

        if message.get_content_type() == "application/gzip":
            # admin.analytics.getFile
            if self._logger.level <= logging.DEBUG:
                self._logger.debug(
                    "Received the following response - "
                    f"status: {status}, headers: {dict(message)}, body: (binary)"
                )
            return {"status": status, "headers": message, "body": data}
        body = data.decode(message.get_content_charset() or "utf-8")
        if self._logger.level <= logging.DEBUG:
            self._logger.debug(
                "Received the following response - "
                f"status: {status}, headers: {dict(message)}, body: {body}"
            )
        return {"status": status, "headers": message, "body": body}

    @staticmethod
    def _key(req: urllib.request.Request) -> _Key | None:
        """(scheme, host, port) of an http(s) URL; None for anything else,
        left to the stock implementation."""
        parts = urlsplit(req.full_url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        try:
            port = parts.port
        except ValueError:
            return None
        return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]

    def _exchange(
        self, key: _Key, req: urllib.request.Request, headers: dict[str, Any]
    ) -> tuple[http.client.HTTPResponse, bytes] | None:
        """Send ``req`` and read the whole answer; the connection goes back
        to the pool if the server keeps it open. None: not ours to send."""
        fresh = False
        while True:
            taken = self._take(key, fresh=fresh)
            if taken is None:
                return None
            conn, reused, generation = taken
            sending = True
            try:
                conn.request(
                    req.get_method(),
                    req.selector,
                    req.data,
                    headers,
                    encode_chunked=req.has_header("Transfer-encoding"),
                )
                sending = False
                resp = conn.getresponse()
            except OSError as err:
                conn.close()
                if reused and isinstance(err, _STALE):
                    # The server closed the idle connection as we used it.
                    log.debug("Slack Web API: %s closed an idle connection, reconnecting", key[1])
                    fresh = True
                    continue
                if sending:  # as urlopen: connecting or sending
                    raise URLError(err) from err
                raise
            except BaseException:
                conn.close()
                raise
            try:
                data = resp.read()
            except BaseException:
                conn.close()
                raise
            self._put_back(key, conn, resp, generation)
            return resp, data

    # ---------------------------------------------------------------- pool
    def _take(
        self, key: _Key, *, fresh: bool
    ) -> tuple[http.client.HTTPConnection, bool, int] | None:
        """An idle connection still open (reused=True), else a new one
        (connected on first use); None when urllib would use a proxy."""
        while not fresh:
            with self._pool_lock:
                idle = self._idle.get(key)
                found = idle.pop() if idle else None
                generation = self._generation
            if found is None:
                break
            if found.sock is not None and not _dropped(found.sock):
                return found, True, generation
            found.close()
        scheme, host, port = key
        if _system_proxy(scheme, host):
            return None
        with self._pool_lock:
            generation = self._generation
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self._ssl_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        return conn, False, generation

    def _put_back(
        self,
        key: _Key,
        conn: http.client.HTTPConnection,
        resp: http.client.HTTPResponse,
        generation: int,
    ) -> None:
        resp.close()
        # http.client drops the socket itself when the answer said
        # "Connection: close" (or was HTTP/1.0 without keep-alive).
        if conn.sock is None or resp.will_close:
            conn.close()
            return
        with self._pool_lock:
            idle = self._idle.setdefault(key, [])
            if generation == self._generation and len(idle) < self.MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def _ssl_context(self) -> ssl.SSLContext:
        if self.ssl is not None:
            return self.ssl
        with self._pool_lock:
            if self._default_ssl is None:
                # What http.client builds for every connection without one.
                context = ssl.create_default_context()
                context.set_alpn_protocols(["http/1.1"])
                if context.post_handshake_auth is not None:
                    context.post_handshake_auth = True
                self._default_ssl = context
            return self._default_ssl

    def close(self) -> None:
        """Close the idle connections (best effort); those in use are closed
        when their call ends. The client stays usable: later calls connect
        anew."""
        with self._pool_lock:
            self._generation += 1
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        for conn in idle:
            try:
                conn.close()
            except OSError:
                pass


def _system_proxy(scheme: str, host: str) -> bool:
    """Whether urllib's default opener would send this through a proxy from
    the environment (slack_sdk copies the usual ones into ``proxy``)."""
    proxies = urllib.request.getproxies()
    return scheme in proxies and not urllib.request.proxy_bypass(host)
