"""API key forms."""

from datetime import datetime, time

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import BaseForm
from app.keys.services import InvalidNetwork, parse_networks
from app.timeutil import utcnow


class KeyControlsForm(BaseForm):
    """What a key may do: its name, endpoint groups, addresses and expiry."""

    name = StringField(_l("Name"), validators=[
        DataRequired(message=_l("Give the key a name, such as the app that will use it.")),
        Length(max=60, message=_l("Use at most 60 characters."))])
    access = RadioField(_l("Endpoints"), choices=[("all", _l("Every endpoint")), ("some", _l("Only these groups"))],
                        default="all")
    scopes = SelectMultipleField(_l("Endpoint groups"), choices=[], option_widget=CheckboxInput(),
                                 widget=ListWidget(prefix_label=False), validate_choice=True)
    allowed_ips = TextAreaField(_l("Allowed IP addresses (optional)"), validators=[Optional()])
    valid_until = DateField(_l("Expires on (optional)"), validators=[Optional()])
    daily_cap = IntegerField(_l("Daily credit cap (optional)"), validators=[
        Optional(), NumberRange(min=1, max=1_000_000_000, message=_l("Use a whole number from 1 to 1,000,000,000."))])
    monthly_cap = IntegerField(_l("Monthly credit cap (optional)"), validators=[
        Optional(), NumberRange(min=1, max=1_000_000_000, message=_l("Use a whole number from 1 to 1,000,000,000."))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scopes.choices = [(s, s) for s in current_app.config["PRICING"].scopes]

    def validate_scopes(self, field):
        if self.access.data == "some" and not field.data:
            raise ValidationError(str(_l("Choose at least one group, or every endpoint.")))

    def validate_allowed_ips(self, field):
        try:
            parse_networks(field.data)
        except InvalidNetwork as exc:
            raise ValidationError(str(_l("“%(entry)s” is not an IPv4 or IPv6 address or range (like 192.0.2.0/24); "
                                         "at most 50 entries.", entry=str(exc)))) from exc

    def validate_valid_until(self, field):
        if field.data is not None and field.data <= utcnow().date():
            raise ValidationError(str(_l("Choose a day after today.")))

    def controls(self) -> dict:
        """The controls as ``keys.services`` takes them."""
        day = self.valid_until.data
        return {"scopes": list(self.scopes.data) if self.access.data == "some" else None,
                "networks": parse_networks(self.allowed_ips.data),
                "valid_until": datetime.combine(day, time()) if day else None,
                "caps": (self.daily_cap.data, self.monthly_cap.data)}


class EditKeyForm(KeyControlsForm):
    """The edit page's form (name and controls; the rate limit and the secret are not edited here)."""


class CreateKeyForm(KeyControlsForm):
    rate_limit = IntegerField(_l("Rate limit (calls per minute, optional)"), validators=[
        Optional(), NumberRange(min=1, message=_l("Use a whole number of at least 1."))])

    def validate_rate_limit(self, field):
        account_limit = current_app.config["PRICING"].rate_limit_per_minute
        if field.data is not None and field.data > account_limit:
            raise ValidationError(str(_l("Use at most %(limit)s, the limit every key has.", limit=account_limit)))


class RotateKeyForm(BaseForm):
    grace_days = SelectField(_l("Keep the old key working for"), coerce=int, choices=[
        (0, _l("No time: stop it now")), (1, _l("1 day")), (3, _l("3 days")), (7, _l("7 days"))], default=1)
