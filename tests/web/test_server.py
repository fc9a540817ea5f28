"""The HTTP server around the page: security headers, rate limiting,
``/healthz``, the mounts for the chat front ends, logs without tokens, and
running it (WebServer, ``hubbot web``)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.web import WebServer, WebServerError, build_web_app
from bot.web.security import CONTENT_SECURITY_POLICY, RateLimiter

from .conftest import GOOD_PASSWORD, Served, Site, free_port, links_in_outbox, make_config

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------- security headers
def assert_secure(response: httpx.Response) -> None:
    h = response.headers
    csp = h["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-content-type-options"] == "nosniff"
    assert "server" not in h  # uvicorn's banner is off


def test_every_response_has_the_security_headers(site: Site, web: Served) -> None:
    link = site.invite()
    form = web.client.get(link.path)
    fields = web.form(link)
    responses = {
        "form": form,
        "refused": web.client.post(
            "/set-password", data={**fields, "password": "short", "confirm": "short"}
        ),
        "csrf": web.client.post("/set-password", data={"token": link.token}),
        "done": web.client.post(
            "/set-password", data={**fields, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
        ),
        "used": web.client.get(link.path),
        "unknown": web.client.get("/set-password?token=nope"),
        "not found": web.client.get("/nope"),
        "method": web.client.delete("/set-password"),
        "healthz": web.client.get("/healthz"),
        "css": web.client.get("/static/hub.css"),
    }
    for name, response in responses.items():
        assert_secure(response), name
    for name in ("form", "refused", "csrf", "done", "used", "unknown", "healthz"):
        assert responses[name].headers["cache-control"] == "no-store", name
    assert responses["css"].status_code == 200
    assert responses["css"].headers["content-type"].startswith("text/css")
    assert "max-age" in responses["css"].headers["cache-control"]


def test_https_public_url_adds_hsts_and_a_host_cookie(site: Site, serve) -> None:  # type: ignore[no-untyped-def]
    site.hub.public_url = "https://hub.example.org"  # TLS ends at a proxy in front
    link = site.invite()
    assert link.url.startswith("https://hub.example.org/set-password?token=")
    page = serve().client.get(link.path)
    assert page.headers["strict-transport-security"] == "max-age=31536000"
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-hub_csrf=") and "Secure" in cookie


# ------------------------------------------------------------ rate limit
def test_posts_are_limited_to_10_a_minute_per_address(site: Site, web: Served) -> None:
    link = site.invite()
    for _ in range(10):
        assert web.client.post("/set-password", data={"token": link.token}).status_code == 403
    limited = web.client.post("/set-password", data={"token": link.token})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "Too many attempts" in limited.text and "Your link still works" in limited.text
    assert_secure(limited)
    # Even a good form waits its turn...
    fields = web.form(link)
    ok = {**fields, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    assert web.client.post("/set-password", data=ok).status_code == 429
    assert site.account("tess@riverside.school").invitation_pending
    # ...while another address is not affected, and the page still opens.
    other = httpx.Client(
        base_url=web.server.url, transport=httpx.HTTPTransport(local_address="127.0.0.2")
    )
    with other:
        other.cookies = web.client.cookies
        assert other.post("/set-password", data=ok).status_code == 200


def test_the_rate_limiter_forgets_after_the_window() -> None:
    now = [0.0]
    limiter = RateLimiter(3, 60.0, clock=lambda: now[0], max_keys=2)
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("a") == 60.0
    now[0] = 30.0
    assert limiter.hit("a") == 30.0  # refused hits do not extend the wait
    now[0] = 60.0
    assert limiter.hit("a") is None
    assert limiter.hit("b") is None
    now[0] = 200.0
    assert limiter.hit("c") is None  # memory stays bounded: idle keys go
    assert len(limiter._hits) <= 2


def test_mounted_front_ends_are_not_rate_limited(site: Site, serve) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[str, str, bytes]] = []

    async def slack_events(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append((scope["method"], scope["path"], body))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    web = serve(mounts={"/slack/events": slack_events})
    for i in range(15):
        response = web.client.post("/slack/events", content=f"event {i}")
        assert response.status_code == 200 and response.json() == {"ok": True}
    assert_secure(response)
    assert seen[-1] == ("POST", "/slack/events", b"event 14")
    assert web.client.get("/slack/events").status_code == 200  # every method reaches it
    assert web.client.post("/slack/events/").status_code == 404  # exact path, no redirect
    assert web.client.post("/slack/other").status_code == 404


# ---------------------------------------------------------------- mounts
def test_a_subtree_mount_and_a_starlette_app(site: Site, serve) -> None:  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def where(request):  # type: ignore[no-untyped-def]
        return PlainTextResponse(f"{request.scope['root_path']}|{request.url.path}")

    telegram = Starlette(routes=[Route("/webhook", where, methods=["POST"])])
    web = serve(mounts={"/telegram/": telegram})
    response = web.client.post("/telegram/webhook")
    assert response.status_code == 200
    assert response.text == "/telegram|/telegram/webhook"


@pytest.mark.parametrize(
    "path", ["/set-password", "/healthz", "/static/x", "/", "relative", "/a?b=c", "/set-password/"]
)
def test_our_own_paths_cannot_be_taken(site: Site, path: str) -> None:
    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        pass

    with pytest.raises(ValueError):
        build_web_app(site.hub, mounts={path: app})


# --------------------------------------------------------------- healthz
def test_healthz_reports_the_store_scheduler_and_front_ends(site: Site, serve) -> None:  # type: ignore[no-untyped-def]
    state = {"scheduler": "running", "frontends": {"slack": "ok", "telegram": "ok"}}
    web = serve(health=lambda: state)
    response = web.client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "store": "ok",
        "scheduler": "running",
        "frontends": {"slack": "ok", "telegram": "ok"},
    }
    state["frontends"]["telegram"] = "down"
    down = web.client.get("/healthz")
    assert down.status_code == 503
    assert down.json()["frontends"]["telegram"] == "down"
    state["frontends"]["telegram"] = "ok"
    state["scheduler"] = "stopped"
    assert web.client.get("/healthz").status_code == 503


def test_healthz_without_a_health_callable(site: Site, web: Served) -> None:
    response = web.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"store": "ok", "scheduler": "off", "frontends": {}}


def test_healthz_when_the_check_itself_fails(site: Site, serve) -> None:  # type: ignore[no-untyped-def]
    def broken() -> dict[str, object]:
        raise RuntimeError("boom")

    response = serve(health=broken).client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["health"] == "error"


def test_healthz_when_the_store_is_closed(site: Site, web: Served) -> None:
    site.app.store.close()
    response = web.client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["store"].startswith("error")


# ------------------------------------------------------------------ logs
def test_the_token_never_reaches_the_logs(
    site: Site, web: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    link = site.invite()
    web.client.get(link.path)
    web.submit(link, "short")
    web.client.post("/set-password", data={"token": link.token, "csrf": "x"})
    web.submit(link, GOOD_PASSWORD)
    web.client.get(link.path)
    web.client.get(link.path + "&x=1")
    # The server's records (the test's own HTTP client logs its URLs: not ours).
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "\n".join(f"{r.getMessage()} {r.args} {r.exc_text}" for r in server)
    assert link.token not in text
    assert GOOD_PASSWORD not in text
    # The access log is there, with paths only.
    access = [r.getMessage() for r in server if r.name == "bot.web"]
    assert any("GET /set-password 200" in line for line in access), access
    assert any("POST /set-password 403" in line for line in access), access
    assert any("GET /set-password 410" in line for line in access), access
    assert not any("?" in line for line in access)


def test_uvicorn_loggers_redact_tokens(caplog: pytest.LogCaptureFixture, site: Site) -> None:
    server = WebServer(make_config(site.config.data_dir, 0), build_web_app(site.hub))
    server.start()
    try:
        caplog.set_level(logging.DEBUG)
        logging.getLogger("uvicorn.error").warning("bad request to /set-password?token=SECRET1")
        assert "SECRET1" not in caplog.text and "token=***" in caplog.text
    finally:
        server.stop()


# -------------------------------------------------------------- running
def test_web_server_start_stop_and_address_in_use(site: Site) -> None:
    server = WebServer(make_config(site.config.data_dir, 0), build_web_app(site.hub))
    server.start()
    try:
        assert server.running and server.port != 0
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        taken = WebServer(make_config(site.config.data_dir, server.port), build_web_app(site.hub))
        with pytest.raises(
            WebServerError, match=r"can't listen on 127\.0\.0\.1:\d+.*HUB_HTTP_PORT"
        ):
            taken.start()
    finally:
        server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/healthz")


def wait_for(url: str, seconds: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def hubbot(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def hub_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SLACK_", "TELEGRAM_"))}
    env.update(
        HUB_DATA_DIR=str(tmp_path / "cli-data"),
        HUB_HTTP_HOST="127.0.0.1",
        HUB_HTTP_PORT=str(port),
        HUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
        HUB_LOG_LEVEL="DEBUG",
        PYTHONUNBUFFERED="1",
    )
    return env


def test_the_whole_life_cycle_with_hubbot_console_and_hubbot_web(tmp_path: Path) -> None:
    """The coordinator adds a teacher in the chat (console), the teacher opens
    the emailed link on ``hubbot web`` and sets a password, and the account
    shows as active with no invitation pending. Real processes throughout;
    their whole output is checked for the token."""
    port = free_port()
    env = hub_env(tmp_path, port)
    outbox = tmp_path / "cli-data" / "outbox"
    run = subprocess.run(
        [sys.executable, "-m", "bot", "centre", "add", "GB001", "--name", "Riverside School",
         "--coordinator-name", "Cora Coordinator", "--coordinator-email", "cora@riverside.school"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    chat = "add\nTina Teacher\ntina@riverside.school\nno\n1\ndone\nReview and confirm\n1\n"
    added = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--as", "cora@riverside.school"],
        input=chat, cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    (link,) = links_in_outbox(outbox, "tina@riverside.school")

    server = hubbot("web", env=env)
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz").json() == {
            "store": "ok",
            "scheduler": "off",
            "frontends": {},
        }
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            served = Served(None, client)  # type: ignore[arg-type]
            page = client.get(link.url)
            assert "Tina Teacher" in page.text and "Riverside School" in page.text
            assert "Your password is set" in served.submit(link, GOOD_PASSWORD).text
            assert client.get(link.url).status_code == 410
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=20)
    assert server.returncode == 0, output
    assert "The set-password page is served on http://127.0.0.1:" in output
    assert "GET /set-password 200" in output  # the access log, at DEBUG level
    assert link.token not in output and GOOD_PASSWORD not in output

    shown = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--as", "cora@riverside.school"],
        input="show tina@riverside.school\n", cwd=REPO, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    card = shown.stdout
    assert "Tina Teacher" in card and "Status: active" in card, card
    assert "Invitation pending: no" in card, card
    assert link.token not in run.stdout + added.stdout + shown.stdout


def test_hubbot_web_says_so_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot", "web"],
            cwd=REPO, env=hub_env(tmp_path, port), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(f"hubbot: The web page can't listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_the_runner_serves_the_page_beside_the_scheduler(tmp_path: Path) -> None:
    """What ``hubbot run`` starts: the page and /healthz, with the
    scheduler's state from the runner's own health report."""
    from bot.app import open_app
    from bot.runner import Runner

    app = open_app(make_config(tmp_path / "data", free_port()))
    try:
        runner = Runner(app, ())
        runner.start()
        try:
            health = httpx.get(f"{app.config.public_url}/healthz", timeout=10)
            assert health.status_code == 200, health.text
            assert health.json() == {"store": "ok", "scheduler": "running", "frontends": {}}
            page = httpx.get(f"{app.config.public_url}/set-password?token=nope", timeout=10)
            assert page.status_code == 410
        finally:
            runner.stop()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{app.config.public_url}/healthz", timeout=2)
    finally:
        app.close()
