"""Slack's HTTP mode: the ASGI app for ``/slack/events``, mounted on the bot's
web server (:mod:`bot.web`) through the front end's ``http_mounts``.

The app reads the request (at most :data:`MAX_BODY`) into a
:class:`Delivery` and hands it to a handler that gives the :class:`Answer`:

- :func:`in_this_process`: the Bolt app is here. Dispatching checks the
  signature, lets the listener acknowledge and hand its work (which claims
  the delivery first) to the front end's executor: well under a
  millisecond and nothing asked of the store, so it runs right on the event
  loop, which saves each request two thread hand-overs. The one exception
  is the add-account form, which is checked and applied before Slack gets
  its answer (the store, perhaps users.info): it is dispatched in a worker
  thread so the loop never waits on the disk or on Slack.
- :class:`bot.slack.process.SlackProcess`: the Bolt app is in a process
  of its own; the delivery is passed to it, and its answer back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltRequest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot import metrics

MAX_BODY = 1024 * 1024  # Slack's payloads are a few kilobytes
RECEIVED_AT = "received_at"  # in the Bolt context: when the request arrived
# Bolt's own headers for re-invoking an app to run one lazy listener (on
# FaaS): never Slack's, so never taken from outside (they would skip the
# acknowledgement, where the form is checked; the bot has no lazy listeners).
_LAZY_HEADERS = ("x-slack-bolt-lazy-only", "x-slack-bolt-lazy-function-name")
# In a form submission's payload (as JSON, or URL-encoded in the form body).
# Mentioned elsewhere (a message's text), it only costs a thread hop.
_FORM_SUBMITTED = "view_submission"


@dataclass(frozen=True)
class Delivery:
    """One request from Slack, as read off the wire."""

    body: str
    query: str
    headers: dict[str, list[str]]
    received: float  # metrics.now() when it arrived: the bot's own work starts here

    @property
    def is_form(self) -> bool:
        return _FORM_SUBMITTED in self.body


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    headers: dict[str, str]


Handler = Callable[[Delivery], Awaitable[Answer]]


def dispatch(bolt: App, delivery: Delivery) -> Answer:
    """Bolt's answer to one delivery (signature check, listener); the work
    it hands on claims the delivery later."""
    answer = bolt.dispatch(
        BoltRequest(
            body=delivery.body,
            query=delivery.query,
            headers=delivery.headers,
            context={RECEIVED_AT: delivery.received},
        )
    )
    return Answer(answer.status, answer.body, answer.first_headers_without_set_cookie())


def in_this_process(bolt: App) -> Handler:
    async def handle(delivery: Delivery) -> Answer:
        if delivery.is_form:
            return await run_in_threadpool(dispatch, bolt, delivery)
        return dispatch(bolt, delivery)

    return handle


class SlackEvents:
    """ASGI app: a POST from Slack → the handler (signature checked there)."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle

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
        received = metrics.now()  # the bot's own work on this request starts here
        if request.method != "POST":
            return PlainTextResponse(
                "Slack posts here.", status_code=405, headers={"Allow": "POST"}
            )
        body = bytearray()
        async for chunk in request.stream():  # never more than MAX_BODY in memory
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse("Too large.", status_code=413)
        answer = await self.handle(
            Delivery(
                body=bytes(body).decode("utf-8", errors="replace"),
                query=request.url.query,
                headers={
                    k: request.headers.getlist(k) for k in request.headers if k not in _LAZY_HEADERS
                },
                received=received,
            )
        )
        return Response(content=answer.body, status_code=answer.status, headers=answer.headers)
