"""The base form every form of the site derives from."""

from flask import g
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms.csrf.core import CSRF

from app.security import check_csrf_token, portal_csrf_token


def strip(value):
    """A field filter: the text without surrounding spaces (other values as they are)."""
    return value.strip() if isinstance(value, str) else value


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
