"""Organisation forms: create one, switch between them."""

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length

from app.forms import BaseForm, strip


class CreateOrganisationForm(BaseForm):
    name = StringField(_l("Organisation name"), filters=[strip], validators=[
        DataRequired(message=_l("Give the organisation a name, such as your company's or team's.")),
        Length(max=80, message=_l("Use at most 80 characters."))])


class SwitchOrganisationForm(BaseForm):
    organisation = IntegerField(_l("Organisation"), validators=[DataRequired()])
