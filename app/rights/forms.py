"""Privacy-centre and rights-request forms."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from app.forms import BaseForm, strip
from app.labels import choices


class CloseAccountForm(BaseForm):
    confirm_email = EmailField(_l("Type your e-mail address to confirm"), validators=[
        DataRequired(message=_l("Type your e-mail address to confirm."))], filters=[strip])


def type_choices():
    # An empty first choice: nothing is picked for the visitor.
    return [("", _l("Choose a request…")), *choices("request_type")]


class RequestForm(BaseForm):
    type = SelectField(_l("What would you like?"), choices=type_choices,
                       validators=[DataRequired(message=_l("Choose what you would like."))])
    email = EmailField(_l("E-mail address"), validators=[
        DataRequired(message=_l("Enter your e-mail address.")), Length(max=254),
        Email(check_deliverability=False, message=_l("Enter a valid e-mail address, like name@example.com."))],
        filters=[strip])
    details = TextAreaField(_l("Details"), validators=[
        DataRequired(message=_l("Tell us what the request is about.")),
        Length(max=5000, message=_l("Write at most 5,000 characters."))])
    guardian = BooleanField(_l("I am a parent or guardian asking about a child's data"))


class CodeForm(BaseForm):
    token = HiddenField()
    code = StringField(_l("Six-digit code"), validators=[
        DataRequired(message=_l("Enter the code from the e-mail.")), Length(max=12)], filters=[strip])


class StaffRequestForm(BaseForm):
    """The staff actions share one form; ``action`` (a button) says which."""

    note = TextAreaField(_l("Note, outcome or reason"), validators=[Optional(), Length(max=5000)])
    months = IntegerField(_l("Extend by (months)"), validators=[Optional(), NumberRange(min=1, max=2)])
    assignee = SelectField(_l("Assign to"), coerce=int, validators=[Optional()])
    hold_until = DateField(_l("Hold until"), validators=[Optional()])
