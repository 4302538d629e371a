"""The breach register's forms: record one, fill in its Art. 33(3) contents, mark the authority
notified. Times are entered in UTC."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.forms import BaseForm, strip
from app.labels import choices

TIME_FORMAT = "%Y-%m-%dT%H:%M"
TIME_ERROR = _l("Enter a date and time, like 2026-12-06 14:30.")


class RecordBreachForm(BaseForm):
    title = StringField(_l("What happened, in a few words"), validators=[
        DataRequired(message=_l("Give the breach a title.")), Length(max=200)], filters=[strip])
    aware_at = DateTimeLocalField(_l("When we became aware of it (UTC)"), format=TIME_FORMAT, validators=[
        DataRequired(message=TIME_ERROR)])
    nature = TextAreaField(_l("What we know so far"), validators=[Optional(), Length(max=5000)], filters=[strip])


class BreachDetailsForm(BaseForm):
    title = StringField(_l("Title"), validators=[DataRequired(message=_l("Give the breach a title.")),
                                                 Length(max=200)], filters=[strip])
    nature = TextAreaField(_l("Nature of the breach"), validators=[Optional(), Length(max=5000)], filters=[strip])
    data_categories = StringField(_l("Categories of personal data"), validators=[Optional(), Length(max=500)],
                                  filters=[strip])
    scope = SelectField(_l("Who is affected"), choices=[("", _l("Counted by hand"))] + choices("breach_scope"),
                        validators=[Optional()])
    people_affected = IntegerField(_l("People affected (approximately)"), validators=[
        Optional(), NumberRange(min=0, max=10**9, message=_l("Enter a whole number from 0."))])
    records_affected = IntegerField(_l("Records affected (approximately)"), validators=[
        Optional(), NumberRange(min=0, max=10**12, message=_l("Enter a whole number from 0."))])
    contact = StringField(_l("Contact point for more information"), validators=[Optional(), Length(max=300)],
                          filters=[strip])
    consequences = TextAreaField(_l("Likely consequences"), validators=[Optional(), Length(max=5000)],
                                 filters=[strip])
    measures = TextAreaField(_l("Measures taken or proposed"), validators=[Optional(), Length(max=5000)],
                             filters=[strip])


class NotifyAuthorityForm(BaseForm):
    sent_at = DateTimeLocalField(_l("Sent to the supervisory authority at (UTC)"), format=TIME_FORMAT,
                                 validators=[DataRequired(message=TIME_ERROR)])
    authority_reference = StringField(_l("The authority's reference (optional)"),
                                      validators=[Optional(), Length(max=100)], filters=[strip])
    delay_reason = TextAreaField(_l("Reasons for the delay (required after 72 hours)"),
                                 validators=[Optional(), Length(max=5000)], filters=[strip])


class BreachStageForm(BaseForm):
    stage = SelectField(_l("Stage"), choices=choices("breach_stage"))
