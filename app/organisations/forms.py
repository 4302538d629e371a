"""Organisation forms: create one, switch between them."""

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import BaseForm, strip
from app.labels import choices
from app.organisations.models import Role


class CreateOrganisationForm(BaseForm):
    name = StringField(_l("Organisation name"), filters=[strip], validators=[
        DataRequired(message=_l("Give the organisation a name, such as your company's or team's.")),
        Length(max=80, message=_l("Use at most 80 characters."))])


class SwitchOrganisationForm(BaseForm):
    organisation = IntegerField(_l("Organisation"), validators=[DataRequired()])


def _role_choices():
    return choices("member_role")


class InviteForm(BaseForm):
    email = StringField(_l("E-mail address"), filters=[strip], validators=[
        DataRequired(message=_l("Enter the e-mail address to invite.")), Length(max=254)])
    role = SelectField(_l("Role"), choices=[], default=Role.DEVELOPER)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = _role_choices()


class RoleForm(BaseForm):
    role = SelectField(_l("Role"), choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = _role_choices()


class RemoveMemberForm(BaseForm):
    """The keys the removed member made that keep working for the organisation (the rest are revoked)."""

    keep = SelectMultipleField(_l("Keys that keep working"), choices=[], coerce=int, option_widget=CheckboxInput(),
                               widget=ListWidget(prefix_label=False), validate_choice=True)
