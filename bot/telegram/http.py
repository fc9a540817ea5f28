"""Bot API calls over aiohttp: a :class:`telegram.request.BaseRequest`.

python-telegram-bot's own :class:`~telegram.request.HTTPXRequest` costs the
bot about 1.45 ms of CPU per Bot API call under ``make load``; this class
about 0.4 ms (both measured in the bot's process), and the bot is CPU-bound
there. In httpx/httpcore, each time a request enters or leaves httpcore's connection
pool, the pool walks all its connections (counting them all again at each
idle one: quadratic) and, for each waiting request, all of them again; and a
call goes through several layers of request and response models. aiohttp's
connector takes an idle keep-alive connection from a per-host list, and its
HTTP parser is in C.

What differs from :class:`~telegram.request.HTTPXRequest`:

- ``write_timeout`` is accepted (python-telegram-bot passes it) but aiohttp
  has no timeout for writing the request: a request body is written without
  a limit, and ``read_timeout`` starts once it is out. The bot's requests are
  a few kilobytes, which the kernel takes at once.
- ``pool_timeout`` and ``connect_timeout`` are added together for aiohttp's
  ``connect`` timeout (waiting for a free connection, then connecting);
  ``connect_timeout`` alone bounds the TCP/TLS connect (``sock_connect``).
- Proxy settings from the environment (``HTTPS_PROXY``) and ``.netrc`` are
  not used (``trust_env=False``): aiohttp would look both up again for every
  request, each in a worker thread.

The URL of a Bot API call contains the bot's token, so it is never logged
and is cut out of the messages of the errors raised here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]{20,}")  # what Bot API tokens look like


class AiohttpRequest(BaseRequest):
    """Bot API requests through one :class:`aiohttp.ClientSession`.

    The session is made by :meth:`initialize` (on the running event loop) and
    closed by :meth:`shutdown`; :meth:`initialize` after :meth:`shutdown`
    makes a new one, as python-telegram-bot does when a start is retried.

    Args:
        connection_pool_size: connections kept open to the Bot API at most.
        read_timeout: seconds to wait for the answer (between two reads);
            ``None`` waits as long as it takes.
        write_timeout: accepted for python-telegram-bot's sake and unused:
            aiohttp has no timeout for writing a request (see the module).
        connect_timeout: seconds to connect (TCP and TLS).
        pool_timeout: seconds to wait for a free connection.
        keepalive_timeout: seconds an idle connection is kept for reuse
            (aiohttp's default).
    """

    __slots__ = (
        "_connect_timeout",
        "_default_timeout",
        "_keepalive_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        keepalive_timeout: float = 15.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._keepalive_timeout = keepalive_timeout
        self._default_timeout = _client_timeout(read_timeout, connect_timeout, pool_timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call does not give one."""
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(
            limit=self._pool_size, keepalive_timeout=self._keepalive_timeout
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": self.USER_AGENT},
            timeout=self._default_timeout,
            trust_env=False,
        )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")

        # write_timeout: nothing to apply it to (see the module's docstring).
        if (
            isinstance(read_timeout, DefaultValue)
            and isinstance(connect_timeout, DefaultValue)
            and isinstance(pool_timeout, DefaultValue)
        ):
            timeout = self._default_timeout
        else:
            timeout = _client_timeout(
                self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout,
                self._connect_timeout
                if isinstance(connect_timeout, DefaultValue)
                else connect_timeout,
                self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout,
            )

        data: aiohttp.FormData | bytes | None = None
        headers = None
        if request_data is not None:
            if request_data.contains_files:
                form = aiohttp.FormData(default_to_multipart=True)
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                data = form
            else:
                encoded = request_data.url_encoded_parameters()
                if encoded:
                    data, headers = encoded.encode(), _FORM

        try:
            async with session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        # asyncio.TimeoutError is TimeoutError, a subclass of OSError: first.
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            message = _safe(f"Timed out: aiohttp.{type(exc).__name__}: {exc}", url)
            raise TimedOut(message) from _cause(exc, url)
        except (aiohttp.ClientError, OSError) as exc:
            message = _safe(f"aiohttp.{type(exc).__name__}: {exc}", url)
            raise NetworkError(message) from _cause(exc, url)


def _client_timeout(
    read: float | None, connect: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=None,
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=read,
    )


def _safe(message: str, url: str) -> str:
    """``message`` without ``url``, its path (which holds the token) or the token."""
    message = message.replace(url, "<Bot API URL>")
    path = urlsplit(url).path
    if len(path) > 1:
        message = message.replace(path, "/<path>")
    return _TOKEN.sub("<token>", message)


def _cause(exc: BaseException, url: str) -> BaseException | None:
    """``exc`` to chain to ours, unless a traceback of it would show the
    token: some aiohttp errors put the URL in their message."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if _safe(str(link), url) != str(link):
            return None
        link = link.__cause__ or link.__context__
    return exc
