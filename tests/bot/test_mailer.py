"""Delivering the outbox against a real SMTP server (aiosmtpd on loopback),
and as RFC 5322 ``.eml`` files: nothing lost while the server is down, each
email delivered exactly once, no header ever injected."""

from __future__ import annotations

import email
import time
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest

from bot.config import Config
from bot.mailer import HeaderInjection, Mailer, build_message
from hub import NewAccount
from hub.outbox import EmailContent, OutboxEmail, all_emails, enqueue
from hub.schema import OUTBOX


def smtp_config(data_dir: Path, server, **extra) -> Config:  # type: ignore[no-untyped-def]
    return Config(
        data_dir=data_dir,
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_starttls=False,
        **extra,
    )


def parse(raw: bytes) -> email.message.EmailMessage:
    """RFC 5322, or RFC 6532 (UTF-8 headers, for an international address)."""
    text = raw.decode("utf-8")
    return email.message_from_string(text, policy=default_policy)  # type: ignore[return-value]


def states(store) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted({e.state for e in all_emails(store)})


def queue(store, clock, to_email: str, to_name: str, subject: str = "Hello") -> str:  # type: ignore[no-untyped-def]
    """Put an email straight into the outbox, as the hub would."""
    with store.transaction() as tx:
        return enqueue(
            tx,
            clock(),
            to_email=to_email,
            to_name=to_name,
            kind="test",
            content=EmailContent(subject, "plain body\n", "<p>html body</p>"),
        )


# -------------------------------------------------------------------- SMTP
def test_each_queued_email_is_delivered_by_smtp_once(centre, smtp_server, data_dir, clock) -> None:  # type: ignore[no-untyped-def]
    smtp_server.start()
    store = centre.hub.store
    expected = sorted(e.to_email for e in all_emails(store))
    assert len(expected) == 6
    mailer = Mailer(store, smtp_config(data_dir, smtp_server), clock=clock)
    assert mailer.deliver_due() == (6, 0)
    assert mailer.deliver_due() == (0, 0)
    clock.advance(days=1)
    assert mailer.deliver_due() == (0, 0)
    assert sorted(rcpt[0] for _, rcpt, _ in smtp_server.received) == expected
    message_ids = set()
    for mail_from, rcpts, raw in smtp_server.received:
        assert mail_from == "noreply@hub.localhost"
        message = parse(raw)
        assert message["To"].addresses[0].addr_spec == rcpts[0]
        assert message["From"].addresses[0].display_name == "School Support Hub"
        assert message["Subject"] == "Your School Support Hub account"
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "https://hub.example.org/set-password?token=" in text
        assert '<a href="https://hub.example.org/set-password?token=' in html
        message_ids.add(message["Message-ID"])
    assert len(message_ids) == 6
    # Delivered: marked sent once, and no usable link is left in the store.
    for sent in all_emails(store):
        assert (sent.state, sent.attempts, sent.sent_at) == ("sent", 1, clock() - timedelta(days=1))
        assert "token=(removed after delivery)" in sent.text
        assert "token=(removed after delivery)" in sent.html


def test_server_down_emails_wait_then_each_is_delivered_once(
    centre, smtp_server, data_dir, clock
) -> None:  # type: ignore[no-untyped-def]
    store = centre.hub.store
    mailer = Mailer(store, smtp_config(data_dir, smtp_server), clock=clock)
    start = clock()
    # Down: every email waits in the outbox with its attempt recorded.
    assert mailer.deliver_due() == (0, 6)
    waiting = all_emails(store)
    assert {(e.state, e.attempts) for e in waiting} == {("pending", 1)}
    assert all("Connection refused" in (e.last_error or "") for e in waiting)
    assert {e.next_attempt_at for e in waiting} == {start + timedelta(seconds=30)}
    assert mailer.deliver_due() == (0, 0)  # backing off: nothing due yet
    clock.advance(seconds=30)
    assert mailer.deliver_due() == (0, 6)
    assert {e.attempts for e in all_emails(store)} == {2}
    assert {e.next_attempt_at for e in all_emails(store)} == {clock() + timedelta(seconds=60)}
    clock.advance(seconds=59)
    assert mailer.deliver_due() == (0, 0)
    # More mail arrives while the server is still down.
    centre.hub.add_accounts(
        centre.actor("admin"), [NewAccount("Late Comer", "late@riverside.school")]
    )
    # Up again: everything due goes, once.
    smtp_server.start()
    clock.advance(seconds=1)
    assert mailer.deliver_due() == (7, 0)
    for _ in range(3):
        clock.advance(hours=2)
        assert mailer.deliver_due() == (0, 0)
    recipients = sorted(r[0] for _, r, _ in smtp_server.received)
    assert recipients == sorted(e.to_email for e in all_emails(store))
    assert len(set(recipients)) == 7
    assert states(store) == ["sent"]
    assert {e.attempts for e in all_emails(store) if e.to_email != "late@riverside.school"} == {3}


def test_the_background_sender_delivers_once_when_the_server_comes_back(
    centre, smtp_server, data_dir, clock
) -> None:  # type: ignore[no-untyped-def]
    store = centre.hub.store
    mailer = Mailer(store, smtp_config(data_dir, smtp_server), clock=clock)
    mailer.start(interval=0.02)
    try:
        deadline = time.monotonic() + 10
        while {e.attempts for e in all_emails(store)} != {1} and time.monotonic() < deadline:
            time.sleep(0.02)
        assert states(store) == ["pending"]
        smtp_server.start()
        clock.advance(minutes=5)
        mailer.wake()
        while states(store) != ["sent"] and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # a few more passes: nothing is sent twice
        assert states(store) == ["sent"]
        assert len(smtp_server.received) == 6
    finally:
        mailer.stop()


def test_a_refused_recipient_does_not_hold_back_the_others(
    centre, smtp_server, data_dir, clock
) -> None:  # type: ignore[no-untyped-def]
    smtp_server.reject.add("tess@riverside.school")
    smtp_server.start()
    store = centre.hub.store
    mailer = Mailer(store, smtp_config(data_dir, smtp_server), clock=clock)
    assert mailer.deliver_due() == (5, 1)
    tess = next(e for e in all_emails(store) if e.to_email == "tess@riverside.school")
    assert tess.state == "pending" and "No such mailbox" in (tess.last_error or "")
    smtp_server.reject.clear()
    clock.advance(minutes=1)
    assert mailer.deliver_due() == (1, 0)
    assert len(smtp_server.received) == 6


INTERNATIONAL = [
    ('Zoë "Z" Ünal, Jr.', "zoë@école.fr"),
    ("Jürgen <x@invalid>", "jurgen@müller.de"),
    ("Yong Hu", "用户@例子.广告"),
]


def add_international(centre) -> None:  # type: ignore[no-untyped-def]
    drafts = [NewAccount(name, addr) for name, addr in INTERNATIONAL]
    assert len(centre.hub.add_accounts(centre.actor("admin"), drafts).created) == 3


def test_international_addresses_go_out_with_smtputf8(centre, smtp_server, data_dir, clock) -> None:  # type: ignore[no-untyped-def]
    smtp_server.start()
    add_international(centre)
    mailer = Mailer(centre.hub.store, smtp_config(data_dir, smtp_server), clock=clock)
    assert mailer.deliver_due() == (9, 0)
    for name, addr in INTERNATIONAL:
        raw = next(raw for _, rcpt, raw in smtp_server.received if rcpt == [addr])
        to = parse(raw)["To"].addresses[0]
        assert (to.display_name, to.addr_spec) == (name, addr)


def test_a_server_without_smtputf8_holds_back_only_international_emails(
    centre, smtp_server, data_dir, clock
) -> None:  # type: ignore[no-untyped-def]
    smtp_server.smtputf8 = False
    smtp_server.start()
    add_international(centre)
    mailer = Mailer(centre.hub.store, smtp_config(data_dir, smtp_server), clock=clock)
    assert mailer.deliver_due() == (6, 3)
    waiting = [e for e in all_emails(centre.hub.store) if e.state == "pending"]
    assert sorted(e.to_email for e in waiting) == sorted(a for _, a in INTERNATIONAL)
    assert all("SMTPUTF8" in (e.last_error or "") for e in waiting)


def test_international_addresses_as_files(centre, data_dir, clock) -> None:  # type: ignore[no-untyped-def]
    add_international(centre)
    assert Mailer(centre.hub.store, Config(data_dir=data_dir), clock=clock).deliver_due() == (9, 0)
    found = {}
    for path in (data_dir / "outbox").glob("*.eml"):
        to = parse(path.read_bytes())["To"].addresses[0]
        found[to.addr_spec] = to.display_name
    for name, addr in INTERNATIONAL:
        assert found[addr] == name


def test_no_password_is_sent_in_clear_without_starttls(
    centre, smtp_server, data_dir, clock
) -> None:  # type: ignore[no-untyped-def]
    smtp_server.start()
    store = centre.hub.store
    config = smtp_config(data_dir, smtp_server, smtp_user="hub", smtp_password="s3cret-pw")
    config = Config(**{**config.__dict__, "smtp_starttls": True})
    assert Mailer(store, config, clock=clock).deliver_due() == (0, 6)
    assert smtp_server.received == []
    errors = {e.last_error for e in all_emails(store)}
    assert len(errors) == 1 and "refusing to send the password in clear" in errors.pop()
    assert "s3cret-pw" not in str(list(store.scan(OUTBOX)))
    assert "s3cret-pw" not in repr(config)


# ---------------------------------------------------------- header injection
@pytest.mark.parametrize(
    "field,value",
    [
        ("to_name", "Eve\r\nBcc: victim@evil.example"),
        ("to_name", "Eve\nBcc: victim@evil.example"),
        ("to_name", "Eve\n"),  # a trailing newline slips through the email package
        ("to_name", "Eve\r"),
        ("subject", "Hello\r\nBcc: victim@evil.example"),
        ("subject", "Hello\n"),
    ],
)
def test_line_breaks_never_reach_a_header(
    centre, smtp_server, data_dir, clock, field, value
) -> None:  # type: ignore[no-untyped-def]
    smtp_server.start()
    store = centre.hub.store
    args = {"to_name": "Eve", "subject": "Hello", field: value}
    bad_id = queue(store, clock, "eve@riverside.school", args["to_name"], args["subject"])
    bad = OutboxEmail.from_doc(store.get(OUTBOX, bad_id))
    with pytest.raises(HeaderInjection):
        build_message(bad, "noreply@hub.localhost")
    mailer = Mailer(store, smtp_config(data_dir, smtp_server), clock=clock)
    assert mailer.deliver_due() == (6, 1)  # the others still go
    assert all(r != ["eve@riverside.school"] for _, r, _ in smtp_server.received)
    assert not any(b"victim@evil" in raw for _, _, raw in smtp_server.received)
    refused = OutboxEmail.from_doc(store.get(OUTBOX, bad_id))
    assert refused.state == "pending" and "HeaderInjection" in (refused.last_error or "")
    # And never as a file either.
    eml = Mailer(store, Config(data_dir=data_dir), clock=clock)
    clock.advance(hours=1)
    assert eml.deliver_due() == (0, 1)
    assert not list((data_dir / "outbox").glob("*.eml"))


@pytest.mark.parametrize(
    "to_email",
    ["eve@riverside.school\r\nBcc: victim@evil.example", "eve@riverside.school\n"],
)
def test_line_breaks_in_an_address_are_refused(store, clock, to_email) -> None:  # type: ignore[no-untyped-def]
    email_id = queue(store, clock, to_email, "Eve")
    with pytest.raises(HeaderInjection):
        build_message(OutboxEmail.from_doc(store.get(OUTBOX, email_id)), "noreply@hub.localhost")
    fine = OutboxEmail.from_doc({**store.get(OUTBOX, email_id), "to_email": "a@b.org"})
    build_message(fine, "noreply@hub.localhost")
    with pytest.raises(HeaderInjection):  # nor in the configured sender
        build_message(fine, "noreply@hub.localhost\n")


# -------------------------------------------------------------------- .eml
def test_without_smtp_each_email_is_an_rfc5322_file(centre, data_dir, clock) -> None:  # type: ignore[no-untyped-def]
    store = centre.hub.store
    mailer = Mailer(store, Config(data_dir=data_dir, mail_from="hub@riverside.school"), clock=clock)
    assert mailer.deliver_due() == (6, 0)
    assert mailer.deliver_due() == (0, 0)
    files = sorted((data_dir / "outbox").iterdir())
    assert len(files) == 6 and all(f.suffix == ".eml" for f in files)  # no temporary left
    assert sorted(f.stem for f in files) == sorted(e.email_id for e in all_emails(store))
    for path in files:
        raw = path.read_bytes()
        head, _, _ = raw.partition(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line endings only
        assert all(len(line) <= 998 for line in lines)
        message = parse(raw)
        for header in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
            assert message[header], header
        assert message["From"].addresses[0].addr_spec == "hub@riverside.school"
        assert message["Message-ID"] == f"<{path.stem}@riverside.school>"
        assert message.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        assert b"token=" in raw or b"token=3D" in raw
        assert head.isascii()
    assert states(store) == ["sent"]


def test_a_non_ascii_name_is_encoded_not_garbled_in_the_file(centre, data_dir, clock) -> None:  # type: ignore[no-untyped-def]
    store = centre.hub.store
    centre.hub.add_accounts(
        centre.actor("admin"), [NewAccount("Łukasz Żółć", "lukasz@riverside.school")]
    )
    Mailer(store, Config(data_dir=data_dir), clock=clock).deliver_due()
    found = []
    for path in (data_dir / "outbox").glob("*.eml"):
        message = parse(path.read_bytes())
        if message["To"].addresses[0].addr_spec == "lukasz@riverside.school":
            found.append(message)
            assert message["To"].addresses[0].display_name == "Łukasz Żółć"
            assert "Hello Łukasz Żółć," in message.get_body(("plain",)).get_content()
    assert len(found) == 1


# ------------------------------------------------------- two ways to build
NAMES = [
    "Jane Smith",
    'Eve "the" <Hacker>, Jr.',
    "Łukasz Żółć",
    "O'Brien; Mary (admin)",
    "=?utf-8?q?not_encoded?=",
    "back\\slash",
    "x" * 200,
    'Zoë "Q" ,<>@:;',
    "",
]
SUBJECTS = ["Your School Support Hub account", "Réinitialiser le mot de passe", "x" * 300]


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("name", NAMES)
def test_the_quick_and_the_full_build_read_the_same(name: str, subject: str) -> None:
    """build_message takes a quicker road for ASCII addresses; whichever it
    takes, a mail program must read the same sender, recipient and text,
    with CRLF lines, ASCII headers and no line over 998 octets."""
    from datetime import UTC, datetime

    from bot import mailer

    body = "Hello,\nOpen https://hub.example/set?token=abc_DEF-1 now.\n" + "word " * 60 + "\nZoë"
    now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    email_ = OutboxEmail(
        "e1", "jane@demo.school", name, "invitation", subject, body, f"<p>{body}</p>",
        "pending", 0, now, now, None, None,
    )  # fmt: skip
    args = (email_, name, "jane@demo.school", "hub@demo.school", subject)
    quick, full = mailer._classic_message(*args), mailer._modern_message(*args)
    read = [parse(m.as_bytes()) for m in (quick, full)]
    for header in ("From", "To", "Message-ID", "Date"):
        assert str(read[0][header]) == str(read[1][header]), header
    for kind in ("plain", "html"):
        assert read[0].get_body((kind,)).get_content() == read[1].get_body((kind,)).get_content()
    raw = quick.as_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert raw.partition(b"\r\n\r\n")[0].isascii()
    built = build_message(email_, "hub@demo.school")
    assert str(parse(built.as_bytes())["Subject"]) == subject  # the road taken keeps it whole
