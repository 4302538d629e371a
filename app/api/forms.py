"""The docs page's "Try it" form: one real call with the visitor's own key."""

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, StringField, ValidationError
from wtforms.validators import DataRequired, Length

from app.forms import BaseForm, strip


class TryItForm(BaseForm):
    key = PasswordField(_l("Your API key"), validators=[
        DataRequired(message=_l("Paste one of your keys (twt_…).")), Length(max=100)])
    path = StringField(_l("Path and query"), default="/api/v1/users/jack", filters=[strip], validators=[
        DataRequired(message=_l("Give the path of a call, such as /api/v1/users/jack.")), Length(max=300)])

    def validate_path(self, field):
        if not field.data.startswith("/api/v1/") or "//" in field.data or any(c in field.data for c in " \r\n#"):
            raise ValidationError(str(_l("Give a path of this API, such as /api/v1/tweets/search?q=python.")))
