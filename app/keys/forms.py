"""API key forms."""

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField, ValidationError
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.forms import BaseForm


class CreateKeyForm(BaseForm):
    name = StringField(_l("Name"), validators=[
        DataRequired(message=_l("Give the key a name, such as the app that will use it.")),
        Length(max=60, message=_l("Use at most 60 characters."))])
    rate_limit = IntegerField(_l("Rate limit (calls per minute, optional)"), validators=[
        Optional(), NumberRange(min=1, message=_l("Use a whole number of at least 1."))])

    def validate_rate_limit(self, field):
        account_limit = current_app.config["PRICING"].rate_limit_per_minute
        if field.data is not None and field.data > account_limit:
            raise ValidationError(str(_l("Use at most %(limit)s, your account's limit.", limit=account_limit)))


class RotateKeyForm(BaseForm):
    grace_days = SelectField(_l("Keep the old key working for"), coerce=int, choices=[
        (0, _l("No time: stop it now")), (1, _l("1 day")), (3, _l("3 days")), (7, _l("7 days"))], default=1)
