"""The consent form (banner and settings page share its field names)."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField

from app.forms import BaseForm


class CookieSettingsForm(BaseForm):
    """Rendered on /cookies; POST /consent reads ``action``, ``categories`` and ``next``."""

    class Meta:
        csrf = False  # POST /consent is checked by Origin / Sec-Fetch-Site, so no session is needed

    analytics = BooleanField(_l("Analytics"))
    next = HiddenField()
