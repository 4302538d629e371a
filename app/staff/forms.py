"""The staff console's own forms. Field names are those the pages post (``action``, ``reason``,
``confirmed``, ...); every form carries the portal's CSRF token (``BaseForm``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, SelectMultipleField, StringField, ValidationError
from wtforms.validators import DataRequired, NumberRange, Optional

from app.audit.access import CATEGORIES
from app.database import form_id
from app.forms import BaseForm

NOT_RESUBMITTED = ("csrf_token", "confirmed")


def text(limit: int | None = None):
    """A field filter: the text without surrounding spaces, cut to ``limit`` characters ("" when absent)."""
    def cut(value):
        return (value or "").strip()[:limit]
    return cut


def first_error(form) -> str:
    """The first error message of ``form``, to flash."""
    return str(next(message for messages in form.errors.values() for message in messages))


def resubmitted(*forms) -> dict[str, str]:
    """What was posted to ``forms``, for the confirmation step to post again (without the CSRF token,
    which the step renders afresh, and without ``confirmed``, which it adds)."""
    return {field.name: field.raw_data[0] for form in forms for field in form
            if field.raw_data and field.name not in NOT_RESUBMITTED}


class StaffActionForm(BaseForm):
    """Which of a page's actions was posted, and whether its confirmation step was passed."""

    action = StringField(filters=[text(40)])
    confirmed = HiddenField()

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed.data == "yes"


class ReviewAccessForm(BaseForm):
    note = StringField(_l("What the review found"), filters=[text(200)], validators=[
        DataRequired(message=_l("Say what the review found: it goes into the audit log."))])


class OpenRecordForm(BaseForm):
    """Why a customer's record is opened (written to the audit log)."""

    category = StringField(_l("Category"))
    reference = StringField(_l("Reference"), filters=[text(40)])
    reason = StringField(_l("Reason"), filters=[text(300)], validators=[
        DataRequired(message=_l("Choose a category and give a reason."))])

    def validate_category(self, field):
        if field.data not in CATEGORIES:
            raise ValidationError(str(_l("Choose a category and give a reason.")))


class AccountActionForm(StaffActionForm):
    """An action on a customer's account, with the reason for the audit log."""

    reason = StringField(_l("Reason"), filters=[text(300)], validators=[
        DataRequired(message=_l("Give a reason: it goes into the audit log."))])
    key_id = StringField(filters=[form_id])  # the key to revoke; an id out of range is no key


class TeamForm(StaffActionForm):
    """Invite a staff member, change a member's roles, or remove them."""

    email = StringField(_l("E-mail address"), filters=[text()])
    roles = SelectMultipleField(_l("Roles"), validate_choice=False)  # an unknown role: provisioning.UnknownRole
    user_id = StringField(filters=[form_id])


class EndEverySessionForm(StaffActionForm):
    reason = StringField(_l("Reason"), filters=[text(500)], validators=[
        DataRequired(message=_l("Give a reason: it goes into the audit log."))])


class OrganisationActionForm(StaffActionForm):
    """An action on an organisation (suspend, lift, adjust credits), with the reason for the audit log."""

    reason = StringField(_l("Reason"), filters=[text(200)], validators=[
        DataRequired(message=_l("Give a reason: it goes into the audit log."))])
    amount = IntegerField(_l("Credits to add (negative to remove)"), validators=[
        Optional(), NumberRange(min=-10_000_000, max=10_000_000)])
