"""The words of every email the hub sends, as plain text and HTML.

Every value put into the HTML is escaped; no password ever appears in an
email, only single-use links and short-lived codes.
"""

from __future__ import annotations

from html import escape

from hub.outbox import EmailContent

_HTML = """<!doctype html>
<html><body style="font-family:Arial,Helvetica,sans-serif;color:#1b1b1b;max-width:36em">
{body}
<p style="color:#666;font-size:12px">This email was sent by the School Support Hub.
If you did not expect it, you can ignore it.</p>
</body></html>"""


def _html(*paragraphs: str) -> str:
    return _HTML.format(body="\n".join(f"<p>{p}</p>" for p in paragraphs))


def _button(url: str, label: str) -> str:
    return (
        f'<a href="{escape(url)}" style="background:#0b5394;color:#fff;padding:10px 16px;'
        f'text-decoration:none;border-radius:4px;display:inline-block">{escape(label)}</a>'
    )


def invitation(name: str, centre_name: str, link: str, days: int = 7) -> EmailContent:
    subject = "Your School Support Hub account"
    text = (
        f"Hello {name},\n\n"
        f"An account has been created for you on the School Support Hub for {centre_name}.\n"
        f"Set your password here (the link works once, for {days} days):\n\n{link}\n\n"
        "One login gives you every support site your coordinator chose for you.\n"
    )
    html = _html(
        f"Hello {escape(name)},",
        f"An account has been created for you on the School Support Hub for {escape(centre_name)}.",
        _button(link, "Set your password"),
        f"The link works once, for {days} days. If the button does not work, copy this "
        f"address into your browser:<br>{escape(link)}",
    )
    return EmailContent(subject, text, html)


def password_reset(name: str, link: str) -> EmailContent:
    subject = "Reset your School Support Hub password"
    text = (
        f"Hello {name},\n\n"
        "A password reset was requested for your School Support Hub account.\n"
        f"Choose a new password here (the link works once, for 1 hour):\n\n{link}\n\n"
        "If you did not ask for this, ignore this email: your password is unchanged.\n"
    )
    html = _html(
        f"Hello {escape(name)},",
        "A password reset was requested for your School Support Hub account.",
        _button(link, "Choose a new password"),
        f"The link works once, for 1 hour:<br>{escape(link)}",
        "If you did not ask for this, ignore this email: your password is unchanged.",
    )
    return EmailContent(subject, text, html)


def link_code(name: str, platform: str, code: str) -> EmailContent:
    subject = f"Your code to link {platform} to the School Support Hub"
    text = (
        f"Hello {name},\n\n"
        f"Send this code to the School Support Hub bot in {platform} to link your chat:\n\n"
        f"    {code}\n\n"
        "The code works for 10 minutes. If you did not ask for it, ignore this email.\n"
    )
    html = _html(
        f"Hello {escape(name)},",
        f"Send this code to the School Support Hub bot in {escape(platform)} to link your chat:",
        f'<strong style="font-size:24px;letter-spacing:4px">{escape(code)}</strong>',
        "The code works for 10 minutes. If you did not ask for it, ignore this email.",
    )
    return EmailContent(subject, text, html)


def digest(name: str, centre_name: str, lines: list[str], bot_hint: str) -> EmailContent:
    subject = f"{len(lines)} suspended account(s) waiting for deletion at {centre_name}"
    text = (
        f"Hello {name},\n\n"
        f"These suspended accounts at {centre_name} are waiting for deletion:\n\n"
        + "\n".join(f"  - {line}" for line in lines)
        + f"\n\n{bot_hint}\n"
    )
    html = _html(
        f"Hello {escape(name)},",
        f"These suspended accounts at {escape(centre_name)} are waiting for deletion:",
        "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>",
        escape(bot_hint),
    )
    return EmailContent(subject, text, html)
