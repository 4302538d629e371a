"""The call-log explorer's filters: a GET form (it changes nothing, so it carries no CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, ValidationError
from wtforms.validators import Optional, Regexp

from app.forms import BaseForm, day_in_range
from app.usage.call_log import CallFilters


def _strip(value):
    return value.strip().lower() if isinstance(value, str) else value


class CallFilterForm(BaseForm):
    class Meta:
        csrf = False  # a search: the same link anyone can bookmark, and it changes nothing

    since = DateField(_l("From"), validators=[Optional(), day_in_range])
    until = DateField(_l("To"), validators=[Optional(), day_in_range])
    key = SelectField(_l("Key"), coerce=int, default=0)
    path = SelectField(_l("Endpoint"), default="")  # not "endpoint": url_for takes that name
    status = SelectField(_l("Status"), default="", choices=[
        ("", _l("Any status")), ("2xx", _l("Succeeded (2xx)")), ("4xx", _l("Refused (4xx)")),
        ("5xx", _l("Failed (5xx)"))])
    request_id = StringField(_l("Request id"), filters=[_strip], validators=[
        Optional(), Regexp(r"^[0-9a-f]{32}$", message=_l("A request id is the 32 characters of the X-Request-Id "
                                                          "header, 0-9 and a-f."))])

    def __init__(self, formdata, keys: list[tuple[int, str]], endpoints: list[str]):
        super().__init__(formdata)
        self.key.choices = [(0, _l("Every key")), *keys]
        self.path.choices = [("", _l("Every endpoint")), *[(path, path) for path in endpoints]]

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date is before the start date."))

    def filters(self) -> CallFilters:
        return CallFilters(since=self.since.data, until=self.until.data, key_id=self.key.data or None,
                           endpoint=self.path.data or None, status_class=self.status.data or None,
                           request_id=self.request_id.data or None)
