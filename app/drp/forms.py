"""Registering an authorized agent in the staff console."""

from __future__ import annotations

import binascii

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, StringField, URLField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, ValidationError

from app.drp.signing import verify_key
from app.forms import BaseForm, strip


def _public_key(form, field):
    try:
        verify_key(field.data or "")
    except (binascii.Error, ValueError):
        raise ValidationError(_l("Paste the agent's Ed25519 public key, base64-encoded (32 bytes).")) from None


class AgentForm(BaseForm):
    agent_id = StringField(_l("Agent id (as in the directory)"), validators=[
        DataRequired(message=_l("Enter the agent's id.")),
        Regexp(r"^[A-Za-z0-9_-]{2,64}$", message=_l("Letters, digits, - and _ only, 2 to 64 of them."))],
        filters=[strip])
    name = StringField(_l("Name"), validators=[DataRequired(message=_l("Enter the agent's name.")),
                                               Length(max=200)], filters=[strip])
    verify_key = StringField(_l("Public verify key (base64)"), validators=[
        DataRequired(message=_l("Paste the agent's Ed25519 public key, base64-encoded (32 bytes).")), _public_key],
        filters=[strip])
    web_url = URLField(_l("The agent's website"), validators=[
        DataRequired(message=_l("Enter the agent's website.")), Length(max=300),
        Regexp(r"^https://|^http://(127\.0\.0\.1|localhost)(:\d+)?(/|$)",
               message=_l("Use an https address: status callbacks and redirects stay on its host."))],
        filters=[strip])
    technical_contact = EmailField(_l("Technical contact (optional)"), validators=[
        Optional(), Email(check_deliverability=False, message=_l("Enter a valid e-mail address.")),
        Length(max=254)], filters=[strip])
