"""KeepAliveWebClient against a real HTTP/1.1 server on loopback: it reuses
one connection where the stock WebClient opens one per call, and otherwise
answers, fails and retries exactly as the stock client does (the contract
tests run on both)."""

from __future__ import annotations

import io
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import RemoteDisconnected
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers, default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack.webclient import KeepAliveWebClient

TOKEN = "xoxb-keepalive"


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # a dict is sent as JSON, bytes as they are
    headers: dict[str, str] = field(default_factory=dict)
    then_close: bool = False  # close the connection after answering (without saying so)


DROP = "drop"  # read the request, close the connection without a word


class Api:
    """The Web API over HTTP/1.1 keep-alive: answers ``{"ok": true, "ts"}``
    unless told otherwise, and counts the connections it accepted."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.accepted = 0
        self.closed = threading.Semaphore(0)  # released as each connection ends
        self.calls: list[tuple[str, dict[str, str], bytes]] = []  # method, headers, body
        self.dropped = 0
        self.script: dict[str, list[Answer | str]] = {}
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                api._handle(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> Any:
                sock, addr = super().get_request()
                # The handler writes head and body apart: without this, Nagle
                # and delayed ACKs hold each answer ~40 ms on a kept-alive
                # connection.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if tls is not None:
                    sock = tls.wrap_socket(sock, server_side=True)
                with api._lock:
                    api.accepted += 1
                return sock, addr

            def shutdown_request(self, request: Any) -> None:
                super().shutdown_request(request)
                api.closed.release()

        self.server = Server(("127.0.0.1", 0), Handler)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/api/"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def then(self, method: str, *answers: Answer | str) -> None:
        self.script.setdefault(method, []).extend(answers)

    def called(self, method: str) -> int:
        return sum(1 for m, _, _ in self.calls if m == method)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        method = request.path.rsplit("/", 1)[-1]
        raw = request.rfile.read(int(request.headers.get("content-length") or 0))
        with self._lock:
            queue = self.script.get(method) or []
            answer = queue.pop(0) if queue else Answer()
            if answer == DROP:
                self.dropped += 1
            else:
                self.calls.append((method, dict(request.headers), raw))
                n = len(self.calls)
        if not isinstance(answer, Answer):
            request.close_connection = True
            return
        body = answer.body if answer.body is not None else {"ok": True, "ts": f"{n}.000100"}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request.send_response(answer.status)
        headers = {"Content-Type": "application/json; charset=utf-8", **answer.headers}
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
        request.close_connection = answer.then_close


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    yield server
    server.close()


CLIENTS = [pytest.param(KeepAliveWebClient, id="keepalive"), pytest.param(WebClient, id="stock")]


def client_for(api: Api, kind: type[WebClient] = KeepAliveWebClient, **kwargs: Any) -> WebClient:
    kwargs.setdefault("retry_handlers", [*default_retry_handlers(), RateLimitErrorRetryHandler(3)])
    return kind(token=TOKEN, base_url=api.url, timeout=5, **kwargs)


# --------------------------------------------------------------- reuse
def test_sequential_calls_share_one_connection(api: Api) -> None:
    client = client_for(api)
    for i in range(1, 6):
        assert client.chat_postMessage(channel="C1", text=f"hello {i}")["ts"] == f"{i}.000100"
    assert api.accepted == 1
    _, headers, body = api.calls[0]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers.get("Connection") is None  # HTTP/1.1: kept alive
    assert json.loads(body) == {"channel": "C1", "text": "hello 1"}


def test_the_stock_client_opens_a_connection_per_call(api: Api) -> None:
    client = client_for(api, WebClient)
    for i in range(3):
        client.chat_postMessage(channel="C1", text=f"hello {i}")
    assert api.accepted == 3  # what this module is for


def test_concurrent_calls_from_several_threads_all_succeed(api: Api) -> None:
    client = client_for(api)
    threads, per_thread = 8, 25

    def work(t: int) -> list[str]:
        return [
            client.chat_postMessage(channel=f"C{t}", text=str(i))["ts"] for i in range(per_thread)
        ]

    with ThreadPoolExecutor(threads) as pool:
        stamps = [ts for batch in pool.map(work, range(threads)) for ts in batch]
    assert len(set(stamps)) == threads * per_thread == api.called("chat.postMessage")
    assert api.accepted <= threads


def test_close_closes_idle_connections_and_the_client_still_works(api: Api) -> None:
    client = client_for(api)
    client.auth_test()
    assert isinstance(client, KeepAliveWebClient)
    client.close()
    assert api.closed.acquire(timeout=5)  # the server saw it go
    assert client.auth_test()["ok"]
    assert api.accepted == 2


# ----------------------------------------------------------- reconnects
def test_a_connection_the_server_closed_while_idle_is_replaced(api: Api) -> None:
    client = client_for(api, retry_handlers=[])
    api.then("chat.postMessage", Answer(then_close=True))
    client.chat_postMessage(channel="C1", text="one")
    assert api.closed.acquire(timeout=5)
    assert client.chat_postMessage(channel="C1", text="two")["ts"] == "2.000100"
    assert api.accepted == 2 and api.called("chat.postMessage") == 2


def test_a_request_the_server_drops_on_a_reused_connection_is_sent_again(api: Api) -> None:
    client = client_for(api, retry_handlers=[])  # not slack_sdk's retry: ours
    client.chat_postMessage(channel="C1", text="one")
    api.then("chat.postMessage", DROP)  # closed as the request arrived
    assert client.chat_postMessage(channel="C1", text="two")["ts"] == "2.000100"
    assert api.dropped == 1 and api.called("chat.postMessage") == 2
    assert api.accepted == 2


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_drop_on_a_new_connection_is_raised_as_urlopen_raises_it(
    api: Api, kind: type[WebClient]
) -> None:
    api.then("chat.postMessage", DROP)
    with pytest.raises(RemoteDisconnected):
        client_for(api, kind, retry_handlers=[]).chat_postMessage(channel="C1", text="x")
    api.then("chat.postMessage", DROP)  # slack_sdk's connection-error handler retries it
    assert client_for(api, kind).chat_postMessage(channel="C1", text="y")["ok"]
    assert api.dropped == 2 and api.called("chat.postMessage") == 1


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_refused_connection_is_a_urlerror_as_from_urlopen(kind: type[WebClient]) -> None:
    server = Api()
    server.close()  # the port is free again: connecting is refused
    client = client_for(server, kind, retry_handlers=[])
    with pytest.raises(Exception) as raised:
        client.auth_test()
    assert type(raised.value).__name__ == "URLError"
    assert isinstance(raised.value.reason, ConnectionRefusedError)  # type: ignore[attr-defined]


# ------------------------------------------------ same answers as stock
@pytest.mark.parametrize("kind", CLIENTS)
def test_a_rate_limited_call_is_retried_after_retry_after(
    api: Api, kind: type[WebClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    class Clock:
        @staticmethod
        def sleep(seconds: float) -> None:
            slept.append(seconds)

    monkeypatch.setattr(builtin_handlers, "time", Clock)
    limited = Answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})
    api.then("chat.postMessage", limited)
    response = client_for(api, kind).chat_postMessage(channel="C1", text="hi")
    assert response["ok"] and response.status_code == 200
    assert api.called("chat.postMessage") == 2  # one logical call, sent twice
    assert len(slept) == 1 and 7 <= slept[0] < 8


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_server_error_raises_slack_api_error(api: Api, kind: type[WebClient]) -> None:
    api.then("chat.postMessage", Answer(500, {"ok": False, "error": "fatal_error"}))
    client = client_for(api, kind)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="hi")
    assert raised.value.response.status_code == 500
    assert raised.value.response["error"] == "fatal_error"
    assert client.chat_postMessage(channel="C1", text="again")["ok"]  # and carries on


@pytest.mark.parametrize("kind", CLIENTS)
def test_invalid_auth_raises_slack_api_error(api: Api, kind: type[WebClient]) -> None:
    api.then("auth.test", Answer(200, {"ok": False, "error": "invalid_auth"}))
    with pytest.raises(SlackApiError) as raised:
        client_for(api, kind).auth_test()
    assert raised.value.response["error"] == "invalid_auth"
    assert raised.value.response.status_code == 200


@pytest.mark.parametrize("kind", CLIENTS)
def test_headers_charset_and_binary_bodies_come_back_as_from_urlopen(
    api: Api, kind: type[WebClient]
) -> None:
    client = client_for(api, kind)
    latin = Answer(
        200,
        '{"ok": true, "name": "Zoë"}'.encode("latin-1"),
        {"Content-Type": "application/json; charset=iso-8859-1", "X-Slack-Req-Id": "r1"},
    )
    api.then("users.info", latin)
    response = client.users_info(user="U1")
    assert response["name"] == "Zoë" and response.headers["X-Slack-Req-Id"] == "r1"
    gzip = b"\x1f\x8b\x08\x00binary"
    api.then("admin.analytics.getFile", Answer(200, gzip, {"Content-Type": "application/gzip"}))
    assert client.admin_analytics_getFile(type="member", date="2020-01-01").data == gzip


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_multipart_upload_arrives_whole(api: Api, kind: type[WebClient]) -> None:
    client = client_for(api, kind)
    response = client.api_call(
        "files.upload", data={"channels": "C1"}, files={"file": io.BytesIO(b"a,b\n1,2\n")}
    )
    assert response["ok"]
    (_, headers, body) = api.calls[-1]
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b"a,b\n1,2\n" in body and b'name="channels"' in body


def test_other_schemes_are_refused_as_by_the_stock_client() -> None:
    from slack_sdk.errors import SlackRequestError

    client = KeepAliveWebClient(token=TOKEN, base_url="file:///etc/")
    with pytest.raises(SlackRequestError, match="Invalid URL"):
        client.auth_test()


def test_a_proxy_hands_the_call_to_the_stock_implementation(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(api, proxy="http://127.0.0.1:9")
    seen: list[str] = []

    def stock(self: WebClient, url: str, req: Any) -> dict[str, Any]:
        seen.append(req.get_method())
        return {"status": 200, "headers": {}, "body": '{"ok": true}'}

    monkeypatch.setattr(WebClient, "_perform_urllib_http_request_internal", stock)
    assert client.auth_test()["ok"]
    assert seen == ["POST"] and api.accepted == 0


# ------------------------------------------------------------------ TLS
@pytest.fixture
def tls_api(tmp_path: Path) -> Iterator[tuple[Api, ssl.SSLContext]]:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    command += " -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
    command += f" -keyout {key} -out {cert}"
    subprocess.run(command.split(), check=True, capture_output=True)
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    server = Api(tls=server_side)
    yield server, ssl.create_default_context(cafile=str(cert))
    server.close()


def test_https_calls_share_one_verified_connection(
    tls_api: tuple[Api, ssl.SSLContext],
) -> None:
    api, trust = tls_api
    client = client_for(api, ssl=trust, retry_handlers=[])
    for i in range(1, 4):
        assert client.chat_postMessage(channel="C1", text="hi")["ts"] == f"{i}.000100"
    api.then("chat.postMessage", DROP)
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    assert api.accepted == 2 and api.dropped == 1
    untrusting = client_for(api, ssl=ssl.create_default_context(), retry_handlers=[])
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        untrusting.auth_test()
