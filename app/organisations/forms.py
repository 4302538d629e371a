"""Organisation forms: create one, switch between them."""

from flask_babel import lazy_gettext as _l
from wtforms import DateField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import BaseForm, day_in_range, strip
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


class TeamLogFilterForm(BaseForm):
    class Meta:
        csrf = False  # a search: a link anyone can bookmark, and it changes nothing

    group = SelectField(_l("What"), default="", choices=[
        ("", _l("Everything")), ("key", _l("API keys")), ("member", _l("Members")),
        ("billing", _l("Billing")), ("organisation", _l("The organisation"))])
    actor = SelectField(_l("Who"), coerce=int, default=0)
    since = DateField(_l("From"), validators=[Optional(), day_in_range])
    until = DateField(_l("To"), validators=[Optional(), day_in_range])
    before = IntegerField(validators=[Optional(), NumberRange(min=1)])  # the page: entries before this id

    def __init__(self, formdata, people: list[tuple[int, str]]):
        super().__init__(formdata)
        self.actor.choices = [(0, _l("Anyone")), *people]


class CloseOrganisationForm(BaseForm):
    confirm_name = StringField(_l("Type the organisation's name to confirm"), filters=[strip], validators=[
        DataRequired(message=_l("Type the organisation's name to confirm."))])
