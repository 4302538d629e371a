"""Language selection.

Order of precedence: the signed-in user's saved language, the ``lang`` cookie (set only when
the visitor picks a language), the browser's ``Accept-Language``, then English.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import flask_babel
from babel.numbers import format_currency as babel_format_currency
from flask import Flask, current_app, has_request_context, request
from flask_login import current_user

from app.consent.registry import LANG_COOKIE

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def supported_locales() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def normalise_locale(value: str | None) -> str | None:
    """Map a language tag (``zh-CN``, ``zh_Hans``, ``en-GB``) to a supported locale, or None."""
    if not value:
        return None
    tag = value.strip().replace("-", "_")
    supported = supported_locales()
    if tag in supported:
        return tag
    primary = tag.split("_", 1)[0].lower()
    # Every Chinese variant gets the one Chinese catalogue we have (Simplified).
    return next((loc for loc in supported if loc.split("_", 1)[0].lower() == primary), None)


def select_locale() -> str:
    """The locale for the current request (flask-babel's locale selector); English outside requests."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    user_locale = current_user.locale if current_user and current_user.is_authenticated else None
    chosen = normalise_locale(user_locale) or normalise_locale(request.cookies.get(LANG_COOKIE))
    if chosen:
        return chosen
    for tag, _quality in request.accept_languages:
        chosen = normalise_locale(tag)
        if chosen:
            return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def html_lang(locale) -> str:
    """The BCP 47 tag for ``<html lang>``: ``en`` or ``zh-Hans``."""
    return str(locale).replace("_", "-")


# --- templates' gettext, resolved once per request and locale --------------------------------
#
# Flask-Babel's template callables resolve the context, the domain and the locale (and format the
# locale's name) on every string: dozens of times a page. These keep the translations on the
# context Flask-Babel itself gives them: ``force_locale`` (mail in the recipient's language)
# clears and restores that attribute, so a forced locale gets its own catalogue.


def request_translations():
    ctx = flask_babel._get_current_context()  # Flask-Babel's per-request namespace (4.x)
    if ctx is None:
        return flask_babel.get_translations()
    translations = getattr(ctx, "babel_translations", None)
    if translations is None:
        translations = ctx.babel_translations = flask_babel.get_translations()
    return translations


def install_template_gettext(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )


@lru_cache(maxsize=4096)
def _money(amount, currency: str, locale: str) -> str:
    return babel_format_currency(amount, currency, locale=locale)


def format_money(amount, currency: str) -> str:
    """``format_currency`` for templates, cached per amount, currency and locale: a price list
    formats the same few prices on every page."""
    return _money(amount, currency, str(flask_babel.get_locale() or "en"))


def format_day(value, format: str = "long") -> str:
    """A date (or an ISO date string, as a queued mail's context keeps it) in the reader's locale:
    "1 December 2026", "2026年12月1日". Empty stays empty."""
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return flask_babel.format_date(value, format)


def format_moment(value, format: str = "medium") -> str:
    """A date and time in the reader's locale with its time zone named ("Dec 1, 2026, 5:26 PM UTC",
    "2026/12/1 17:26 UTC"); a custom pattern (the call log's sortable one) is used as given."""
    if value is None:
        return ""
    text = flask_babel.format_datetime(value, format)
    if format in ("short", "medium"):  # "long" and "full" name the zone themselves
        text = f"{text} {flask_babel.format_time(value, 'z')}"
    return text
