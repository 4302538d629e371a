"""Contact and support forms. Field names of the contact form are public (DESIGN.md §4)."""

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from app.forms import BaseForm, strip
from app.labels import choices

MESSAGE_LENGTH = Length(min=10, max=5000, message=_l("Write between 10 and 5,000 characters."))


def topic_choices():
    # An empty first choice: nothing is picked for the visitor.
    return [("", _l("Choose a topic…")), *choices("topic")]


class ContactForm(BaseForm):
    name = StringField(_l("Your name"), validators=[
        DataRequired(message=_l("Tell us your name.")), Length(max=100, message=_l("Use at most 100 characters."))],
        filters=[strip])
    email = EmailField(_l("E-mail address"), validators=[
        DataRequired(message=_l("Enter your e-mail address.")),
        Length(max=254, message=_l("That address is too long.")),
        Email(check_deliverability=False, message=_l("Enter a valid e-mail address, like name@example.com."))],
        filters=[strip])
    subject = SelectField(_l("Topic"), choices=topic_choices,
                          validators=[DataRequired(message=_l("Choose a topic."))])
    message = TextAreaField(_l("Message"), validators=[DataRequired(message=_l("Write your message.")),
                                                       MESSAGE_LENGTH])
    # Honeypot: hidden from people, filled in by bots.
    website = StringField(_l("Leave this field empty"), validators=[Optional()])


class ReplyForm(BaseForm):
    message = TextAreaField(_l("Your reply"), validators=[DataRequired(message=_l("Write your message.")),
                                                          MESSAGE_LENGTH])


class StaffReplyForm(BaseForm):
    message = TextAreaField(_l("Message"), validators=[DataRequired(message=_l("Write your message.")),
                                                       MESSAGE_LENGTH])


class AssignForm(BaseForm):
    assignee = SelectField(_l("Assign to"), coerce=int)
