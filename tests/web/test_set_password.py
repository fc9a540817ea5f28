"""The set-password page over real HTTP: uvicorn on loopback, the real hub on
a real TinyDB store, links taken from the real invitation ``.eml`` files."""

from __future__ import annotations

import re

import httpx
import pytest
from argon2 import PasswordHasher

from hub import Actor
from hub.schema import ACCOUNTS, AUDIT, TOKENS
from hub.tokens import digest

from .conftest import GOOD_PASSWORD, Link, Served, Site, links_in_outbox

TESS = "tess@riverside.school"


def invalid_page(response: httpx.Response) -> str:
    assert response.status_code == 410
    assert "<h1>This link can't be used</h1>" in response.text
    assert "ask your centre's coordinator to send you a new link" in response.text
    assert "<form" not in response.text
    return response.text


def assert_unchanged(site: Site, link: Link, address: str = TESS) -> None:
    """Nothing was set: invitation still pending, no hash, the link still usable."""
    account = site.account(address)
    assert account.invitation_pending
    doc = site.app.store.get(ACCOUNTS, account.account_id)
    assert doc is not None and not doc.get("password_hash")
    token = site.app.store.get(TOKENS, digest(link.token))
    assert token is not None and not token.get("used_at")


def assert_not_echoed(page: str, password: str) -> None:
    """The refused password is never sent back, in a field or anywhere else."""
    for field in re.findall(r'<input[^>]*type="password"[^>]*>', page):
        assert "value=" not in field
    assert f">{password}<" not in page and f'"{password}"' not in page


def hidden_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))


# ---------------------------------------------------------------- valid link
def test_the_link_opens_a_form_for_that_account(site: Site, web: Served) -> None:
    link = site.invite()
    assert link.url.startswith(site.config.public_url + "/set-password?token=")
    page = web.client.get(link.path)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    text = page.text
    assert '<html lang="en">' in text
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in text
    assert "<h1>Set your password</h1>" in text
    for words in ("Tess Teacher", TESS, "Riverside School"):
        assert words in text
    # The rules are on the page before anyone types.
    assert "at least 12 characters" in text
    assert "not be a common password" in text
    assert "not contain your name or your email address" in text
    # Two labelled fields for a new password, described by the rules.
    assert '<label for="password">' in text and '<label for="confirm">' in text
    assert text.count('type="password"') == 2
    assert text.count('autocomplete="new-password"') == 2
    assert 'aria-describedby="rules"' in text
    assert 'action="/set-password"' in text and 'method="post"' in text
    # No script, no inline style: the CSP would block them anyway.
    assert "<script" not in text and "style=" not in text


def test_a_good_password_is_set_once(site: Site, web: Served) -> None:
    link = site.invite()
    response = web.submit(link, GOOD_PASSWORD)
    assert response.status_code == 200
    assert "Your password is set" in response.text
    assert TESS in response.text

    account = site.account(TESS)
    assert account.active and not account.invitation_pending
    stored = site.app.store.get(ACCOUNTS, account.account_id)
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$")
    assert PasswordHasher().verify(stored["password_hash"], GOOD_PASSWORD)
    token = site.app.store.get(TOKENS, digest(link.token))
    assert token is not None and token["used_at"]

    audit = [e for e in site.app.store.scan(AUDIT) if e["action"] == "accept invitation"]
    assert len(audit) == 1
    assert audit[0]["target"] == TESS and audit[0]["via"] == "set-password page"
    assert audit[0]["before"]["invitation_pending"] is True
    assert audit[0]["after"]["invitation_pending"] is False
    everything = str(list(site.app.store.scan(AUDIT))) + str(list(site.app.store.scan(ACCOUNTS)))
    assert GOOD_PASSWORD not in everything

    # The same link again: the used-link page.
    invalid_page(web.client.get(link.path))


def test_the_form_posted_twice_sets_the_password_only_once(site: Site, web: Served) -> None:
    link = site.invite()
    fields = web.form(link)
    first = web.client.post(
        "/set-password", data={**fields, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    )
    assert first.status_code == 200
    second = web.client.post(
        "/set-password",
        data={**fields, "password": "a different passphrase", "confirm": "a different passphrase"},
    )
    invalid_page(second)
    doc = site.app.store.get(ACCOUNTS, site.account(TESS).account_id)
    assert doc is not None and PasswordHasher().verify(doc["password_hash"], GOOD_PASSWORD)


def test_a_reset_link_works_the_same_way(site: Site, web: Served) -> None:
    site.invite()
    assert web.submit(links_in_outbox(site.outbox, TESS)[-1], GOOD_PASSWORD).status_code == 200
    site.clock.advance(minutes=5)
    site.hub.reset_password(
        Actor(site.coordinator.account_id, "test"), site.account(TESS).account_id
    )
    site.deliver()
    reset = links_in_outbox(site.outbox, TESS, "reset")[-1]
    page = web.client.get(reset.path)
    assert "<h1>Choose a new password</h1>" in page.text
    done = web.submit(reset, "quiet meadow bicycle 7")
    assert "Your password is set" in done.text
    doc = site.app.store.get(ACCOUNTS, site.account(TESS).account_id)
    assert doc is not None and PasswordHasher().verify(
        doc["password_hash"], "quiet meadow bicycle 7"
    )
    assert any(e["action"] == "set password" for e in site.app.store.scan(AUDIT))


# ------------------------------------------------ links that can't be used
def test_expired_used_and_unknown_links_get_the_same_page(site: Site, web: Served) -> None:
    used = site.invite()
    assert web.submit(used, GOOD_PASSWORD).status_code == 200
    expiring = site.invite("Tom Teacher", "tom@riverside.school")
    site.clock.advance(days=7, seconds=1)

    pages = {
        "used": invalid_page(web.client.get(used.path)),
        "expired": invalid_page(web.client.get(expiring.path)),
        "unknown": invalid_page(web.client.get("/set-password?token=" + "A" * 43)),
        "truncated": invalid_page(web.client.get(expiring.path[:-5])),
        "missing": invalid_page(web.client.get("/set-password")),
        "empty": invalid_page(web.client.get("/set-password?token=")),
        "huge": invalid_page(web.client.get("/set-password?token=" + "x" * 5000)),
    }
    assert len(set(pages.values())) == 1, "the pages must not tell these cases apart"
    assert "Tom Teacher" not in pages["expired"]


def test_a_link_still_works_just_before_it_expires(site: Site, web: Served) -> None:
    link = site.invite()
    site.clock.advance(days=6, hours=23, minutes=59)
    assert web.client.get(link.path).status_code == 200


def test_a_form_opened_before_expiry_and_sent_after_is_refused(site: Site, web: Served) -> None:
    link = site.invite()
    fields = web.form(link)
    site.clock.advance(days=7, seconds=1)
    response = web.client.post(
        "/set-password", data={**fields, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    )
    invalid_page(response)
    account = site.account(TESS)
    assert account.invitation_pending


def test_a_resent_invitation_kills_the_old_link(site: Site, web: Served) -> None:
    old = site.invite()
    site.hub.reset_password(
        Actor(site.coordinator.account_id, "test"), site.account(TESS).account_id
    )
    site.deliver()
    links = links_in_outbox(site.outbox, TESS, "account")
    assert len(links) == 2
    (new,) = [link for link in links if link.token != old.token]
    invalid_page(web.client.get(old.path))
    assert web.client.get(new.path).status_code == 200


# ------------------------------------------------------- password policy
@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short pw 1", "Use at least 12 characters."),
        ("password1234", "That password is too common"),
        ("Password-1234", "That password is too common"),
        ("qwertyuiop123", "That password is too common"),
        ("School-Support-Hub-2026", "That password is too common"),
        ("Tess Teacher 2026!", "Don&#x27;t use your name or email address"),
        ("teacher-river-blue", "Don&#x27;t use your name or email address"),
        ("x tess@riverside.school", "Don&#x27;t use your name or email address"),
        ("x" * 257, "Use at most 256 characters."),
    ],
    ids=[
        "short",
        "common",
        "common-mangled",
        "keyboard",
        "hub-name",
        "name",
        "surname",
        "email",
        "too-long",
    ],
)
def test_a_weak_password_is_refused_with_the_reason(
    site: Site, web: Served, password: str, problem: str
) -> None:
    link = site.invite()
    response = web.submit(link, password)
    assert response.status_code == 400
    assert problem in response.text
    # The form comes back, errors announced and tied to the field, password not echoed.
    assert 'role="alert"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'aria-describedby="problems rules"' in response.text
    assert "<title>Error: Set your password" in response.text
    assert_not_echoed(response.text, password)
    assert_unchanged(site, link)
    # and the same form (cookie and field) still works afterwards.
    fields = hidden_fields(response.text)
    ok = web.client.post(
        "/set-password", data={**fields, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    )
    assert ok.status_code == 200, ok.text


def test_several_problems_are_listed_together(site: Site, web: Served) -> None:
    link = site.invite()
    response = web.submit(link, "tess")
    assert response.status_code == 400
    assert "Use at least 12 characters." in response.text
    assert "Don&#x27;t use your name or email address" in response.text
    assert response.text.count("<li>", response.text.index('id="problems"')) >= 2


def test_the_two_fields_must_match(site: Site, web: Served) -> None:
    link = site.invite()
    response = web.submit(link, GOOD_PASSWORD, GOOD_PASSWORD + "!")
    assert response.status_code == 400
    assert "The two passwords are not the same" in response.text
    assert response.text.count('aria-invalid="true"') == 2
    assert_not_echoed(response.text, GOOD_PASSWORD)
    assert_unchanged(site, link)


def test_an_empty_password_is_asked_for(site: Site, web: Served) -> None:
    link = site.invite()
    response = web.submit(link, "")
    assert response.status_code == 400
    assert "Type your new password." in response.text
    assert_unchanged(site, link)


# ------------------------------------------------------------------- CSRF
def test_csrf_field_missing(site: Site, web: Served) -> None:
    link = site.invite()
    fields = web.form(link)
    del fields["csrf"]
    response = web.client.post(
        "/set-password", data={**fields, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    )
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert "Open the link from your email again" in response.text
    assert_unchanged(site, link)


def test_csrf_cookie_missing(site: Site, web: Served) -> None:
    """A forged cross-site POST: the attacker knows a token (their own or a
    leaked one) and builds the form, but the browser has no cookie of ours
    for a cross-site request (SameSite=Strict)."""
    link = site.invite()
    fields = web.form(link)
    web.client.cookies.clear()
    response = web.client.post(
        "/set-password", data={**fields, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    )
    assert response.status_code == 403
    assert_unchanged(site, link)


@pytest.mark.parametrize("wrong", ["0" * 64, "", "nonsense"])
def test_csrf_field_wrong(site: Site, web: Served, wrong: str) -> None:
    link = site.invite()
    fields = web.form(link)
    response = web.client.post(
        "/set-password",
        data={**fields, "csrf": wrong, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD},
    )
    assert response.status_code == 403
    assert_unchanged(site, link)


def test_csrf_field_of_another_link_is_refused(site: Site, web: Served) -> None:
    mine = site.invite()
    other = site.invite("Tom Teacher", "tom@riverside.school")
    my_fields = web.form(mine)
    response = web.client.post(
        "/set-password",
        data={
            "token": other.token,
            "csrf": my_fields["csrf"],
            "password": GOOD_PASSWORD,
            "confirm": GOOD_PASSWORD,
        },
    )
    assert response.status_code == 403
    assert_unchanged(site, other, "tom@riverside.school")


def test_a_cross_site_post_is_refused_even_with_the_cookie(site: Site, web: Served) -> None:
    link = site.invite()
    fields = web.form(link)
    response = web.client.post(
        "/set-password",
        data={**fields, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert_unchanged(site, link)


def test_the_csrf_cookie_is_strict_and_http_only(site: Site, web: Served) -> None:
    link = site.invite()
    response = web.client.get(link.path)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("hub_csrf=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    # A second tab keeps the same cookie, so the first tab's form stays valid.
    first = hidden_fields(response.text)
    assert "set-cookie" not in web.client.get(link.path).headers
    ok = web.client.post(
        "/set-password", data={**first, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    )
    assert ok.status_code == 200


def test_a_form_from_before_a_restart_is_refused_kindly(site: Site, serve) -> None:  # type: ignore[no-untyped-def]
    link = site.invite()
    before = serve(csrf_secret=b"a" * 32)
    fields = before.form(link)
    cookies = before.client.cookies
    before.server.stop()
    after = serve(csrf_secret=b"b" * 32)  # a new process has a new secret
    after.client.cookies = cookies
    response = after.client.post(
        "/set-password", data={**fields, "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    )
    assert response.status_code == 403
    assert "The link still works" in response.text
    assert after.submit(link, GOOD_PASSWORD).status_code == 200


# --------------------------------------------------------- odd requests
def test_a_form_that_is_not_urlencoded_is_refused(site: Site, web: Served) -> None:
    link = site.invite()
    fields = web.form(link)
    response = web.client.post(
        "/set-password",
        files={"password": ("p", GOOD_PASSWORD.encode())},
        data={**fields, "confirm": GOOD_PASSWORD},
    )
    assert response.status_code == 415
    assert_unchanged(site, link)


def test_a_huge_form_is_refused(site: Site, web: Served) -> None:
    link = site.invite()
    fields = web.form(link)
    huge = "x" * 20_000
    response = web.client.post("/set-password", data={**fields, "password": huge, "confirm": huge})
    assert response.status_code == 413
    assert_unchanged(site, link)


def test_other_methods_and_paths(site: Site, web: Served) -> None:
    wrong_method = web.client.put("/set-password")
    assert wrong_method.status_code == 405
    assert set(wrong_method.headers["allow"].split(", ")) >= {"GET", "POST"}
    missing = web.client.get("/nothing-here")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    home = web.client.get("/")
    assert "open it with the link in your invitation" in home.text.lower()
    assert web.client.head("/healthz").status_code in (200, 405)


# -------------------------------------------------------------- escaping
def test_every_value_is_escaped(site: Site, web: Served) -> None:
    _, coordinator = site.hub.create_centre(
        "GB002", 'Ecole "<b>Bold</b>" & Co', "Zed Zero", "zed@bold.school"
    )
    site.coordinator = coordinator
    link = site.invite("<script>alert(1)</script> O'Neil", "oneil@bold.school")
    page = web.client.get(link.path).text
    assert "<script>" not in page and "<b>Bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; O&#x27;Neil" in page
    assert "Ecole &quot;&lt;b&gt;Bold&lt;/b&gt;&quot; &amp; Co" in page
    done = web.submit(link, GOOD_PASSWORD)
    assert done.status_code == 200
    assert "<script>" not in done.text and "&lt;script&gt;" in done.text
