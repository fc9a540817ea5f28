"""Plain HTML templates (``bot/web/templates/*.html``) with ``$name`` slots.

Every value is HTML-escaped (quotes too) unless it is :class:`Html`, which
only this module and the pages' own code make, from templates and literal
markup. A template that names a slot nobody filled is a programming error
and raises at once.
"""

from __future__ import annotations

import functools
from html import escape
from importlib import resources
from string import Template


class Html(str):
    """Markup that is already safe: a rendered template or a literal."""


def _escaped(value: object) -> str:
    if isinstance(value, Html):
        return value
    return escape(str(value), quote=True)


@functools.cache
def _template(name: str) -> Template:
    text = resources.files("bot.web").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def render(template: str, /, **values: object) -> Html:
    return Html(_template(template).substitute({k: _escaped(v) for k, v in values.items()}))


def join(parts: list[object], sep: str = "\n") -> Html:
    """Join pieces, escaping every one that is not already :class:`Html`."""
    return Html(sep.join(_escaped(p) for p in parts))


def page(title: str, body: Html) -> Html:
    """A whole page: the layout around ``body``."""
    return render("layout.html", title=title, body=body)
