"""Billing forms."""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.forms import BaseForm


class CheckoutForm(BaseForm):
    pack = HiddenField(validators=[DataRequired()])


class RefundForm(BaseForm):
    amount = IntegerField(_l("Amount to refund, in cents (empty: all that is left)"),
                          validators=[Optional(), NumberRange(min=1)])
    reason = StringField(_l("Reason"), validators=[
        DataRequired(message=_l("Give a reason: it goes into the audit log.")), Length(max=200)])


class AdjustCreditsForm(BaseForm):
    email = StringField(_l("Customer e-mail address"), validators=[DataRequired(), Length(max=254)])
    amount = IntegerField(_l("Credits to add (negative to remove)"), validators=[
        DataRequired(message=_l("Give a non-zero number of credits.")), NumberRange(min=-10_000_000, max=10_000_000)])
    reason = StringField(_l("Reason"), validators=[
        DataRequired(message=_l("Give a reason: it goes into the audit log.")), Length(max=200)])
