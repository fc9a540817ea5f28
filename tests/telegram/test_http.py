"""AiohttpRequest against HTTP servers on loopback: a small recording server
of its own (multipart, timeouts, connections) and the fake Bot API, through
python-telegram-bot's ``Bot``."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs

import pytest
from telegram import Bot, InputFile
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.telegram.http import AiohttpRequest

from .conftest import TOKEN, FakeBotAPI

T = TypeVar("T")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int]  # one per TCP connection

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def parts(self) -> dict[str, tuple[str | None, str, bytes]]:
        """Multipart body → name → (filename, content type, content)."""
        head = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + self.body)
        assert message.is_multipart()
        return {
            part.get_param("name", header="content-disposition"): (
                part.get_filename(),
                part.get_content_type(),
                part.get_payload(decode=True),
            )
            for part in message.iter_parts()
        }


class Recorder:
    """Records every request; answers ``{"ok": true, "result": true}``, or
    ``answers[path]`` as (status, body). ``/slow`` answers once ``release``
    is set."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.release = threading.Event()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                recorder._serve(self)

            def do_POST(self) -> None:
                recorder._serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None  # type: ignore[method-assign]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in request.headers.items()}
        seen = Seen(request.command, request.path, headers, body, request.client_address[:2])
        self.seen.append(seen)
        if request.path == "/slow":
            self.release.wait(10)
        status, answer = self.answers.get(request.path, (200, b'{"ok": true, "result": true}'))
        request.send_response(status)
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        try:
            request.wfile.write(answer)
        except OSError:  # the client gave up
            pass

    def connections(self) -> set[tuple[str, int]]:
        return {s.peer for s in self.seen}

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.stop()


def run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]


def with_request(
    body: Callable[[AiohttpRequest], Awaitable[T]], **kwargs: Any
) -> Callable[[], Awaitable[T]]:
    async def main() -> T:
        request = AiohttpRequest(**kwargs)
        await request.initialize()
        try:
            return await body(request)
        finally:
            await request.shutdown()

    return main


def params(**values: Any) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in values.items()])


def test_a_call_sends_its_parameters_as_a_form_and_returns_status_and_bytes(
    server: Recorder,
) -> None:
    server.answers["/bot1:x/sendMessage"] = (200, b'{"ok": true, "result": 7}')

    async def call(request: AiohttpRequest) -> tuple[int, bytes]:
        data = params(chat_id=42, text="Déjà vu & <b>", reply_markup={"a": [1, 2]})
        return await request.do_request(f"{server.url}/bot1:x/sendMessage", "POST", data)

    assert run(with_request(call)) == (200, b'{"ok": true, "result": 7}')
    (seen,) = server.seen
    assert (seen.method, seen.path) == ("POST", "/bot1:x/sendMessage")
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.headers["user-agent"] == BaseRequest.USER_AGENT
    assert seen.form() == {
        "chat_id": "42",
        "text": "Déjà vu & <b>",
        "reply_markup": '{"a": [1, 2]}',
    }


def test_an_error_status_comes_back_as_it_is(server: Recorder) -> None:
    server.answers["/bot1:x/getMe"] = (502, b"Bad Gateway")

    async def call(request: AiohttpRequest) -> tuple[int, bytes]:
        return await request.do_request(f"{server.url}/bot1:x/getMe", "POST")

    assert run(with_request(call)) == (502, b"Bad Gateway")
    assert server.seen[0].body == b""


def test_files_are_uploaded_as_multipart_with_the_other_parameters(server: Recorder) -> None:
    document = InputFile(b"name,email\nAda,ada@example.org\n", filename="people.csv")
    # python-telegram-bot may also hand over an open file rather than bytes
    handle = io.BytesIO(b"\x89PNG...")
    thumbnail = InputFile(handle, filename="t.png", attach=True, read_file_handle=False)
    assert thumbnail.input_file_content is handle

    async def call(request: AiohttpRequest) -> tuple[int, bytes]:
        data = params(chat_id=42, caption="the list", document=document, thumbnail=thumbnail)
        assert data.contains_files
        return await request.do_request(f"{server.url}/bot1:x/sendDocument", "POST", data)

    assert run(with_request(call))[0] == 200
    (seen,) = server.seen
    assert seen.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = seen.parts()
    assert parts["chat_id"][2] == b"42"
    assert parts["caption"][2] == b"the list"
    assert parts["document"] == ("people.csv", "text/csv", b"name,email\nAda,ada@example.org\n")
    (name,) = set(parts) - {"chat_id", "caption", "document", "thumbnail"}
    assert parts["thumbnail"][2] == f"attach://{name}".encode()
    assert parts[name] == ("t.png", "image/png", b"\x89PNG...")


def test_a_download_is_a_get(server: Recorder) -> None:
    server.answers["/file/bot1:x/documents/a.csv"] = (200, b"\x00\x01binary\xff")

    async def call(request: AiohttpRequest) -> tuple[int, bytes]:
        return await request.do_request(f"{server.url}/file/bot1:x/documents/a.csv", "GET")

    assert run(with_request(call)) == (200, b"\x00\x01binary\xff")
    assert server.seen[0].method == "GET"


def test_sequential_calls_share_one_connection(server: Recorder) -> None:
    async def calls(request: AiohttpRequest) -> None:
        for _ in range(5):
            assert (await request.do_request(f"{server.url}/bot1:x/getMe", "POST"))[0] == 200

    run(with_request(calls))
    assert len(server.seen) == 5
    assert len(server.connections()) == 1


def test_concurrent_calls_stay_within_the_pool(server: Recorder) -> None:
    async def calls(request: AiohttpRequest) -> None:
        async def one() -> int:
            return (await request.do_request(f"{server.url}/slow", "POST"))[0]

        tasks = [asyncio.create_task(one()) for _ in range(6)]
        deadline = time.monotonic() + 5
        while len(server.seen) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert len(server.seen) == 2  # the others wait for a connection
        server.release.set()
        assert await asyncio.gather(*tasks) == [200] * 6

    run(with_request(calls, connection_pool_size=2, pool_timeout=5))
    assert len(server.connections()) == 2


def test_a_refused_connection_is_a_network_error_without_the_token() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens there once it is closed

    async def call(request: AiohttpRequest) -> None:
        await request.do_request(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe", "POST")

    with pytest.raises(NetworkError) as caught:
        run(with_request(call))
    assert not isinstance(caught.value, TimedOut)
    assert str(caught.value).startswith("aiohttp.ClientConnectorError")
    assert TOKEN not in "".join(traceback.format_exception(caught.value))


def test_no_answer_in_time_is_timed_out(server: Recorder) -> None:
    async def call(request: AiohttpRequest, read_timeout: Any = BaseRequest.DEFAULT_NONE) -> None:
        await request.do_request(f"{server.url}/slow", "POST", read_timeout=read_timeout)

    for default, given in ((0.3, BaseRequest.DEFAULT_NONE), (30.0, 0.3)):
        started = time.monotonic()
        with pytest.raises(TimedOut):
            run(with_request(lambda r, given=given: call(r, given), read_timeout=default))
        assert time.monotonic() - started < 3


def test_a_read_timeout_given_with_the_call_wins_over_the_default(server: Recorder) -> None:
    async def calls(request: AiohttpRequest) -> list[int]:
        statuses = []
        # None: no read timeout at all.
        for given in (2.0, None):
            threading.Timer(0.5, server.release.set).start()
            url = f"{server.url}/slow"
            statuses.append((await request.do_request(url, "POST", read_timeout=given))[0])
            server.release.clear()
        return statuses

    assert run(with_request(calls, read_timeout=0.1)) == [200, 200]


def test_a_timed_out_connect_is_timed_out_without_the_token() -> None:
    # A listening socket that never accepts: its backlog of one fills up, then
    # the kernel leaves further connection attempts unanswered.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)

        async def call(request: AiohttpRequest) -> None:
            await request.do_request(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe", "POST")

        try:
            with pytest.raises(TimedOut) as caught:
                run(with_request(call, connect_timeout=0.3, pool_timeout=0.1))
        finally:
            for filler in fillers:
                filler.close()
    # aiohttp's own error has the URL in its message: left out, and unchained.
    assert TOKEN not in "".join(traceback.format_exception(caught.value))


def test_initialize_after_shutdown_works_again(server: Recorder) -> None:
    request = AiohttpRequest()
    url = f"{server.url}/bot1:x/getMe"

    async def twice() -> None:
        for _ in range(2):
            await request.initialize()
            await request.initialize()  # a second initialize() is harmless
            assert (await request.do_request(url, "POST"))[0] == 200
            await request.shutdown()
            await request.shutdown()
        with pytest.raises(RuntimeError, match="not initialized"):
            await request.do_request(url, "POST")

    run(twice)
    run(twice)  # and on another event loop
    assert len(server.seen) == 4


def test_the_read_timeout_property_is_the_default() -> None:
    assert AiohttpRequest(read_timeout=20).read_timeout == 20
    assert AiohttpRequest(read_timeout=None).read_timeout is None
    assert AiohttpRequest().read_timeout == 5.0


# ------------------------------------------------------- through telegram.Bot
# (``api``: the fake Bot API of conftest.py)
def bot_on(api: FakeBotAPI) -> Bot:
    return Bot(
        TOKEN,
        base_url=f"{api.url}/bot",
        base_file_url=f"{api.url}/file/bot",
        request=AiohttpRequest(connection_pool_size=4),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )


def test_a_bot_talks_to_the_bot_api_through_it(api: FakeBotAPI) -> None:
    with api.cond:
        api.files["f1"] = ("documents/file_0.csv", b"a,b\n1,2\n")

    async def main() -> tuple[str, bytes]:
        async with bot_on(api) as bot:  # getMe
            message = await bot.send_message(42, "<b>Hello</b> there", parse_mode="HTML")
            assert message.text == "Hello there"
            file = await bot.get_file("f1")
            return bot.username, bytes(await file.download_as_bytearray())

    assert run(main) == ("HubTestBot", b"a,b\n1,2\n")
    (sent,) = api.called("sendMessage")
    assert (sent.params["chat_id"], sent.params["text"]) == (42, "<b>Hello</b> there")


# python-telegram-bot's own message for RetryAfter reads its deprecated int form
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_a_429_is_retry_after(api: FakeBotAPI) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)

    async def main() -> None:
        async with bot_on(api) as bot:
            await bot.send_message(42, "hello")

    with pytest.raises(RetryAfter) as caught:
        run(main)
    assert "Retry in 7" in str(caught.value)
