"""The base form every form of the site derives from, and validators several forms share."""

from datetime import date

from flask import g
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import ValidationError
from wtforms.csrf.core import CSRF

from app.security import check_csrf_token, portal_csrf_token


def strip(value):
    """A field filter: the text without surrounding spaces (other values as they are)."""
    return value.strip() if isinstance(value, str) else value


# Date filters accept these days only: a search turns "until" into "before the next day", which
# 9999-12-31 does not have, and no record of the site is older than 2000 or newer than 2999.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)


def day_range_error(day: date | None):
    """The message for a filter day outside FIRST_DAY..LAST_DAY, or None (no day is fine)."""
    if day is None or FIRST_DAY <= day <= LAST_DAY:
        return None
    return _l("Choose a day from %(first)s to %(last)s.", first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())


def day_in_range(form, field):
    """A field validator: the day is within FIRST_DAY..LAST_DAY."""
    message = day_range_error(field.data)
    if message is not None:
        raise ValidationError(str(message))


class PortalCSRF(CSRF):
    """Renders the token of app.security; checks it unless the request hook already did."""

    def generate_csrf_token(self, csrf_token_field):
        return portal_csrf_token()

    def validate_csrf_token(self, form, field):
        if g.get("csrf_checked"):
            return
        check_csrf_token(field.data)


class BaseForm(FlaskForm):
    class Meta:
        csrf_class = PortalCSRF

    def hidden_tag(self, *fields):
        """The hidden fields without an ``id``: a page with several forms would repeat
        ``id="csrf_token"`` otherwise, and no label points at a hidden field."""
        hidden = fields or [f for f in self if getattr(f.widget, "input_type", None) == "hidden"]
        return Markup("".join(str(f(id=False)) for f in hidden))  # noqa: S704 - WTForms' own escaped markup
