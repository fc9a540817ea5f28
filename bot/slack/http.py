"""Slack's HTTP mode: the ASGI app for ``/slack/events``, mounted on the bot's
web server (:mod:`bot.web`) through :meth:`SlackFrontEnd.http_mounts`.

The Bolt app is synchronous. Dispatching a request checks its signature,
claims the delivery (one small store write that is not waited for), lets the
listener acknowledge and hands its work to the front end's executor as a
Bolt lazy listener: well under a millisecond, so it runs right here on the
event loop, which saves each request two thread hand-overs. The one
exception is the add-account form, which is checked and applied before
Slack gets its answer (the store, perhaps users.info): it is dispatched in
a worker thread so the loop never waits on the disk or on Slack.
"""

from __future__ import annotations

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
# acknowledgement, where the form is checked).
_LAZY_HEADERS = ("x-slack-bolt-lazy-only", "x-slack-bolt-lazy-function-name")
# In a form submission's payload (as JSON, or URL-encoded in the form body).
# Mentioned elsewhere (a message's text), it only costs a thread hop.
_FORM_SUBMITTED = b"view_submission"


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
        bolt_request = BoltRequest(
            body=bytes(body).decode("utf-8", errors="replace"),
            query=request.url.query,
            headers={
                k: request.headers.getlist(k) for k in request.headers if k not in _LAZY_HEADERS
            },
            context={RECEIVED_AT: received},
        )
        if _FORM_SUBMITTED in body:
            answer = await run_in_threadpool(self.bolt.dispatch, bolt_request)
        else:
            answer = self.bolt.dispatch(bolt_request)
        return Response(
            content=answer.body,
            status_code=answer.status,
            headers=answer.first_headers_without_set_cookie(),
        )
