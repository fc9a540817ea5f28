"""The set-password page: ``GET /set-password?token=…`` shows the form,
``POST /set-password`` sets the password (SPEC "Set-password page").

Order of the POST checks: rate limit, form size and shape, CSRF, the link
(again), the two fields alike, then the hub's password policy. The hub does
the rest in one change: argon2id hash, link used, invitation no longer
pending, audit entry. Unknown, used and expired links get one page.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.web.security import CsrfGuard, RateLimiter
from bot.web.templates import Html, join, page, render
from hub import Hub, Invalid, LinkInvalid
from hub.passwords import LinkInfo, PasswordRefused

log = logging.getLogger("bot.web")

MAX_FORM_BYTES = 16 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


def html(title: str, body: Html, status: int = 200, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return HTMLResponse(page(title, body), status_code=status, headers=headers)


def problem(status: int, heading: str, message: str, advice: str = "") -> HTMLResponse:
    return html(
        heading, render("problem.html", heading=heading, message=message, advice=advice), status
    )


def link_invalid() -> HTMLResponse:
    # 410 Gone for unknown, used and expired links alike.
    return html("This link can't be used", render("link_invalid.html"), 410)


class FormError(Exception):
    def __init__(self, response: HTMLResponse) -> None:
        self.response = response


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form, at most :data:`MAX_FORM_BYTES`; the first value
    of each field. Raises :class:`FormError` with the page to show."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise FormError(
            problem(
                415,
                "This form could not be read",
                "The page sent something it should not have.",
                "Open the link from your email again.",
            )
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormError(
                problem(
                    413,
                    "That was too long",
                    "The form sent was far longer than any password.",
                    "Go back and choose a password of at most 256 characters.",
                )
            )
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=8
        )
    except (UnicodeDecodeError, ValueError):
        raise FormError(
            problem(
                400,
                "This form could not be read",
                "The page sent something it should not have.",
                "Open the link from your email again.",
            )
        ) from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


class SetPasswordPage:
    def __init__(self, hub: Hub, csrf: CsrfGuard, limiter: RateLimiter) -> None:
        self.hub = hub
        self.csrf = csrf
        self.limiter = limiter

    async def _link(self, token: str) -> LinkInfo | None:
        if not token or len(token) > 200:
            return None
        try:
            return await run_in_threadpool(self.hub.check_link, token)
        except LinkInvalid:
            return None

    def _form(
        self,
        info: LinkInfo,
        token: str,
        csrf_field: str,
        problems: list[str] | None = None,
        *,
        mismatch: bool = False,
        status: int = 200,
    ) -> HTMLResponse:
        invitation = info.kind == "invitation"
        errors = Html("")
        if problems:
            errors = render(
                "errors.html",
                title="Please choose another password" if not mismatch else "Please try again",
                items=join([Html(f"<li>{render_text(p)}</li>") for p in problems]),
            )
        invalid = Html(' aria-invalid="true"') if problems else Html("")
        body = render(
            "set_password.html",
            heading="Set your password" if invitation else "Choose a new password",
            lead=(
                "Welcome! Choose a password to finish setting up your account."
                if invitation
                else "Choose a new password for your account."
            ),
            name=info.account_name,
            email=info.email,
            centre=info.centre_name,
            errors=errors,
            token=token,
            csrf=csrf_field,
            describedby="problems rules" if problems else "rules",
            password_invalid=invalid,
            confirm_invalid=invalid if mismatch else Html(""),
            button="Set my password" if invitation else "Save my new password",
        )
        title = "Set your password" if invitation else "Choose a new password"
        if problems:
            title = f"Error: {title}"
        return html(title, body, status)

    async def handle(self, request: Request) -> HTMLResponse:
        return await (self.post(request) if request.method == "POST" else self.get(request))

    async def get(self, request: Request) -> HTMLResponse:
        token = request.query_params.get("token", "")
        info = await self._link(token)
        if info is None:
            log.info("set-password: a link that can't be used was opened")
            return link_invalid()
        nonce, new = self.csrf.nonce(request)
        response = self._form(info, token, self.csrf.field(nonce, token))
        if new:
            self.csrf.set_cookie(response, nonce)
        return response

    async def post(self, request: Request) -> HTMLResponse:
        client = request.client.host if request.client else "unknown"
        wait = self.limiter.hit(client)
        if wait is not None:
            log.warning("set-password: too many attempts from %s", client)
            seconds = int(wait + 0.999)
            return html(
                "Too many attempts",
                render(
                    "problem.html",
                    heading="Too many attempts",
                    message="Too many passwords were sent from your network in the last minute.",
                    advice=(
                        f"Wait {seconds} second{'s' if seconds != 1 else ''}, then go back "
                        "and try again. Your link still works."
                    ),
                ),
                429,
                {"Retry-After": str(seconds)},
            )
        try:
            form = await read_form(request)
        except FormError as refused:
            return refused.response
        token = form.get("token", "")
        if not self.csrf.check(request, token, form.get("csrf", "")):
            log.warning("set-password: form refused by the CSRF check (%s)", client)
            return problem(
                403,
                "This form has expired",
                "For your safety, the form could not be accepted: it was open too long, "
                "or it was not sent from this page.",
                "Open the link from your email again and type your new password once more. "
                "The link still works: nothing was changed.",
            )
        info = await self._link(token)
        if info is None:
            return link_invalid()
        nonce = request.cookies.get(self.csrf.cookie, "")
        field = self.csrf.field(nonce, token)
        password, confirm = form.get("password", ""), form.get("confirm", "")
        if not password:
            return self._form(info, token, field, ["Type your new password."], status=400)
        if password != confirm:
            return self._form(
                info,
                token,
                field,
                ["The two passwords are not the same. Type the same password in both boxes."],
                mismatch=True,
                status=400,
            )
        try:
            account = await run_in_threadpool(self.hub.set_password, token, password)
        except LinkInvalid:
            return link_invalid()
        except PasswordRefused as refused:
            return self._form(info, token, field, refused.problems, status=400)
        except Invalid as refused:
            return self._form(info, token, field, [refused.message], status=400)
        log.info(
            "set-password: password set for account %s (%s link)", account.account_id, info.kind
        )
        return html(
            "Your password is set",
            render("done.html", name=account.name, email=account.email),
        )


def render_text(text: str) -> Html:
    return join([text])
