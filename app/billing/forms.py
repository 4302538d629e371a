"""Billing forms."""

from decimal import Decimal

from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    DecimalField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, StopValidation

from app.billing.alerts import InvalidThresholds, parse_thresholds
from app.forms import BaseForm, day_in_range
from app.labels import LABELS


def finite(form, field):
    """Refuse NaN and infinities before any range check compares them (a NaN comparison raises)."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation(str(_l("Use an amount like 9.00.")))


class CheckoutForm(BaseForm):
    pack = HiddenField(validators=[DataRequired()])


class ReviewCheckoutForm(CheckoutForm):
    """The order before payment: the buyer's country decides the tax; ``shown`` is the country the
    totals on the page were for, so nobody pays a total they did not see."""

    country = SelectField(_l("Your country"), choices=[], validators=[
        DataRequired(message=_l("Choose your country: the tax depends on it."))])
    shown = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()


class RefundForm(BaseForm):
    amount = DecimalField(_l("Amount to refund, in the order's currency (empty: all that is left)"), places=None,
                          validators=[Optional(), finite, NumberRange(min=Decimal("0.01"), max=Decimal("1000000"),
                                                              message=_l("Use an amount like 4.50, above zero."))])
    reason = StringField(_l("Reason"), validators=[
        DataRequired(message=_l("Give a reason: it goes into the audit log.")), Length(max=200)])


class AdjustCreditsForm(BaseForm):
    email = StringField(_l("Customer e-mail address"), validators=[DataRequired(), Length(max=254)])
    amount = IntegerField(_l("Credits to add (negative to remove)"), validators=[
        DataRequired(message=_l("Give a non-zero number of credits.")), NumberRange(min=-10_000_000, max=10_000_000)])
    reason = StringField(_l("Reason"), validators=[
        DataRequired(message=_l("Give a reason: it goes into the audit log.")), Length(max=200)])


class AlertSettingsForm(BaseForm):
    """Low-balance thresholds and the monthly spend limit."""

    thresholds = StringField(_l("Alert me when my balance falls to"), validators=[Length(max=100)])
    spend_limit = IntegerField(_l("Monthly spend limit, in credits (optional)"), validators=[
        Optional(), NumberRange(min=1, max=1_000_000_000, message=_l("Use a whole number from 1 to 1,000,000,000."))])

    def validate_thresholds(self, field):
        try:
            parse_thresholds(field.data)
        except InvalidThresholds as exc:
            raise ValidationError(str(_l("“%(entry)s” is not a threshold: use a share of your last 30 days' use "
                                         "like 25%% (1 to 100 %%) or a number of credits like 500; at most five.",
                                         entry=str(exc)))) from exc


class AlertRecipientForm(BaseForm):
    email = EmailField(_l("Also send alerts to"), validators=[
        DataRequired(message=_l("Enter an e-mail address.")), Length(max=254, message=_l("That address is too long.")),
        Email(check_deliverability=False, message=_l("Enter a valid e-mail address, like name@example.com."))],
        filters=[lambda v: v.strip() if isinstance(v, str) else v])


def country_choices() -> list[tuple[str, str]]:
    """Every country (ISO 3166 alpha-2) by its name in the reader's language, sorted by name."""
    locale = Locale.parse(str(get_locale() or "en").replace("zh_Hans", "zh_Hans_CN"))
    names = {code: name for code, name in locale.territories.items() if len(code) == 2 and code.isalpha()
             and code not in ("ZZ", "QO", "EU", "EZ", "UN", "XA", "XB")}
    return [("", str(_l("Choose…")))] + sorted(names.items(), key=lambda item: item[1])


class BillingDetailsForm(BaseForm):
    name = StringField(_l("Name or company"), validators=[
        DataRequired(message=_l("Enter the name your invoices should carry.")), Length(max=200)])
    address = TextAreaField(_l("Address"), validators=[
        DataRequired(message=_l("Enter the billing address.")), Length(max=1000)])
    country = SelectField(_l("Country"), choices=[], validators=[DataRequired(message=_l("Choose the country."))])
    tax_id = StringField(_l("VAT or tax id (optional)"), validators=[Optional(), Length(max=40)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()


AMOUNT_RANGE = NumberRange(min=Decimal(0), max=Decimal("100000000"), message=_l("Use an amount like 9.00."))


class OrderFilterForm(BaseForm):
    """The staff's order filters (a GET form: no CSRF token, nothing changes)."""

    class Meta:
        csrf = False

    q = StringField(_l("Order reference or e-mail"), validators=[Optional(), Length(max=254)])
    status = SelectField(_l("Status"), choices=[], validators=[Optional()])
    since = DateField(_l("Created from"), validators=[Optional(), day_in_range])
    until = DateField(_l("Created until"), validators=[Optional(), day_in_range])
    min_amount = DecimalField(_l("Amount from"), places=None, validators=[Optional(), finite, AMOUNT_RANGE])
    max_amount = DecimalField(_l("Amount up to"), places=None, validators=[Optional(), finite, AMOUNT_RANGE])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [("", str(_l("Any status")))] + [(code, str(name)) for code, name in
                                                               LABELS["order"].items()]

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(str(_l("Choose a day on or after the first.")))
