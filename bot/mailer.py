"""Delivering the outbox: by SMTP when ``SMTP_HOST`` is set, otherwise as
RFC 5322 ``.eml`` files in ``<data dir>/outbox/``.

An email is marked sent only after the server accepted it (or the file is on
disk). A failed attempt is recorded with back-off and tried again; the
Message-ID is fixed per email, so in the rare case of a crash between the
server's acceptance and our record, the copy sent again is recognisably the
same message.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import threading
from email.charset import QP, Charset
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP, SMTPUTF8, compat32
from email.utils import format_datetime, formataddr
from pathlib import Path

from bot.config import Config
from hub.outbox import OutboxEmail, due, mark_failed_attempt, mark_sent
from storage import Store, StoreError

log = logging.getLogger(__name__)
STRICT = SMTP.clone(raise_on_defect=True)
# For an internationalised recipient (RFC 6531/6532): the email package's
# Address refuses a non-ASCII local part and the strict policy would too, so
# such a header is written as UTF-8 text; line breaks are still refused below.
INTERNATIONAL = SMTPUTF8
# The classic API's settings for the wire: CRLF lines, UTF-8 text written as
# quoted-printable (readable in the .eml files; links stay recognisable).
WIRE = compat32.clone(linesep="\r\n")
UTF8_QP = Charset("utf-8")
UTF8_QP.header_encoding = QP
UTF8_QP.body_encoding = QP
SENDER_NAME = "School Support Hub"


class HeaderInjection(ValueError):
    pass


def _no_line_breaks(value: str, what: str) -> str:
    # The email package's own check misses a trailing newline; refuse any.
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"line break in the {what}")
    return value


def _recipient(name: str, addr: str) -> Address | str:
    if addr.isascii():
        return Address(display_name=name, addr_spec=addr)
    # Quote the name as Address would, then put the UTF-8 address in.
    if not name:
        return addr
    quoted = str(Address(display_name=name, username="x", domain="invalid"))
    return quoted[: quoted.rindex("<x@invalid>")] + f"<{addr}>"


def build_message(email: OutboxEmail, mail_from: str) -> Message:
    """The email as sent: multipart/alternative, text then HTML, CRLF lines.

    An ASCII address with a short ASCII subject (nearly every email) is
    built with the email package's classic classes, which cost a third of
    what :class:`EmailMessage` does:
    its header registry parses every header again, and under a busy morning
    that parsing was a seventh of the bot's CPU. An international address
    needs RFC 6532's UTF-8 headers, which only the modern API writes (and
    it folds a long subject more tidily). Both give the same headers and
    text once parsed; tests/bot/test_mailer.py holds them to that.
    """
    name = _no_line_breaks(email.to_name, "recipient name")
    addr = _no_line_breaks(email.to_email, "recipient address")
    sender = _no_line_breaks(mail_from, "sender")
    subject = _no_line_breaks(email.subject, "subject")
    if addr.isascii() and sender.isascii() and subject.isascii() and len(subject) <= 70:
        return _classic_message(email, name, addr, sender, subject)
    return _modern_message(email, name, addr, sender, subject)


def _classic_message(
    email: OutboxEmail, name: str, addr: str, sender: str, subject: str
) -> Message:
    message = MIMEMultipart("alternative", policy=WIRE)
    message["From"] = formataddr((SENDER_NAME, sender))
    message["To"] = formataddr((name, addr), charset=UTF8_QP)
    message["Subject"] = subject
    message["Date"] = format_datetime(email.created_at)
    message["Message-ID"] = _message_id(email, sender)
    for body, subtype in ((email.text, "plain"), (email.html, "html")):
        text = body if body.endswith("\n") else body + "\n"  # as set_content does
        message.attach(MIMEText(text, subtype, UTF8_QP, policy=WIRE))
    return message


def _message_id(email: OutboxEmail, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1] or "hub.localhost"
    return f"<{email.email_id}@{domain}>"


def _modern_message(
    email: OutboxEmail, name: str, addr: str, sender: str, subject: str
) -> EmailMessage:
    message = EmailMessage(policy=STRICT if addr.isascii() else INTERNATIONAL)
    message["From"] = Address(SENDER_NAME, addr_spec=sender)
    message["To"] = _recipient(name, addr)
    message["Subject"] = subject
    message["Date"] = format_datetime(email.created_at)
    message["Message-ID"] = _message_id(email, sender)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def _server_unavailable(exc: BaseException, *, connected: bool) -> bool:
    """Whether the rest of the pass should wait: no connection could be made
    (or the file could not be written), or the server went away."""
    if isinstance(exc, ValueError):  # this message could not be built
        return False
    if not connected or isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    return not isinstance(exc, smtplib.SMTPException)  # reset, timeout ...


class Mailer:
    """Sends what is due. Thread-safe; one delivery pass at a time."""

    def __init__(self, store: Store, config: Config, clock=None) -> None:  # type: ignore[no-untyped-def]
        from hub.core import utcnow

        self.store = store
        self.config = config
        self._clock = clock or utcnow
        self._pass_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.outbox_dir = Path(config.data_dir) / "outbox"

    def deliver_due(self) -> tuple[int, int]:
        """One pass over the due emails: (sent, failed attempts)."""
        sent = failed = 0
        with self._pass_lock:
            emails = due(self.store, self._clock())
            if not emails:
                return 0, 0
            connection = None
            try:
                for email in emails:
                    try:
                        message = build_message(email, self.config.mail_from)
                        if self.config.smtp_host:
                            connection = connection or self._connect()
                            connection.send_message(message)
                        else:
                            self._write_eml(email, message)
                    except (OSError, smtplib.SMTPException, HeaderInjection, ValueError) as exc:
                        failed += 1
                        reason = f"{exc.__class__.__name__}: {exc}"
                        log.warning("email %s to outbox not delivered: %s", email.email_id, reason)
                        mark_failed_attempt(self.store, email.email_id, self._clock(), reason)
                        # SMTPException is an OSError too: a refused recipient or
                        # message is this email's problem, not the server's.
                        if _server_unavailable(exc, connected=connection is not None):
                            connection = None
                            # The server is down: leave the rest for the next pass.
                            for rest in emails[emails.index(email) + 1 :]:
                                mark_failed_attempt(
                                    self.store, rest.email_id, self._clock(), reason
                                )
                                failed += 1
                            break
                        continue
                    if mark_sent(self.store, email.email_id, self._clock()):
                        sent += 1
            except StoreError as exc:
                log.error("outbox state not saved: %s", exc)
            finally:
                if connection is not None:
                    try:
                        connection.quit()
                    except (OSError, smtplib.SMTPException):
                        pass
        return sent, failed

    def deliver_and_say(self) -> str | None:
        """One delivery pass, told as a sentence for the command line."""
        sent, failed = self.deliver_due()
        if not (sent or failed):
            return None
        where = "by SMTP" if self.config.smtp_host else f"to {self.outbox_dir}"
        return f"Emails: {sent} delivered {where}" + (
            f", {failed} waiting to retry." if failed else "."
        )

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        context = ssl.create_default_context()
        if cfg.smtp_ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.smtp_host, cfg.smtp_port, timeout=15, context=context
            )
        else:
            connection = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=15)
            connection.ehlo()
            if cfg.smtp_starttls and connection.has_extn("starttls"):
                connection.starttls(context=context)
                connection.ehlo()
            elif cfg.smtp_starttls and cfg.smtp_user:
                connection.close()
                raise smtplib.SMTPException(
                    "the server offers no STARTTLS; refusing to send the password in clear "
                    "(set SMTP_STARTTLS=false to allow it)"
                )
        if cfg.smtp_user:
            connection.login(cfg.smtp_user, cfg.smtp_password)
        return connection

    def _write_eml(self, email: OutboxEmail, message: Message) -> None:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        path = self.outbox_dir / f"{email.email_id}.eml"
        tmp = path.with_suffix(".eml.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(message.as_bytes())  # its own policy: strict, or UTF-8 headers
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    # ------------------------------------------------------ background thread
    def wake(self) -> None:
        """Deliver soon: called after a change that queued an email."""
        self._wake.set()

    def start(self, interval: float = 5.0) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.deliver_due()
                except Exception:  # keep delivering whatever one pass hit
                    log.exception("outbox delivery pass failed")
                self._wake.wait(interval)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
