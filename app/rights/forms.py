"""Privacy centre forms."""

from flask_babel import lazy_gettext as _l
from wtforms import EmailField
from wtforms.validators import DataRequired

from app.auth.forms import strip
from app.forms import BaseForm


class CloseAccountForm(BaseForm):
    confirm_email = EmailField(_l("Type your e-mail address to confirm"), validators=[
        DataRequired(message=_l("Type your e-mail address to confirm."))], filters=[strip])
