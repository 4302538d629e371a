"""Account forms. Field names are part of the public interface (DESIGN.md §4)."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError

from app.auth.passwords import MAX_LENGTH, password_problems
from app.forms import BaseForm, strip

EMAIL_VALIDATORS = [
    DataRequired(message=_l("Enter your e-mail address.")),
    Length(max=254, message=_l("That address is too long.")),
    Email(check_deliverability=False, message=_l("Enter a valid e-mail address, like name@example.com.")),
]


class NewPasswordMixin:
    """Validates ``password`` against the rules of app.auth.passwords.

    ``email`` (the account's address) lets the rules refuse a password containing it.
    """

    def __init__(self, *args, email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._email = email

    def email_for_password_check(self) -> str | None:
        return self._email

    def validate_password(self, field):
        problems = password_problems(field.data or "", self.email_for_password_check())
        if problems:
            raise ValidationError(" ".join(str(p) for p in problems))


class RegistrationForm(NewPasswordMixin, BaseForm):
    email = EmailField(_l("E-mail address"), validators=EMAIL_VALIDATORS, filters=[strip])
    password = PasswordField(_l("Password"), validators=[InputRequired(message=_l("Choose a password."))])
    nickname = StringField(_l("Nickname (optional)"), validators=[
        Optional(), Length(max=40, message=_l("Use at most 40 characters."))])
    age_confirmed = BooleanField(validators=[
        DataRequired(message=_l("You must confirm your age to create an account."))])
    # PIPL, for sign-ups in Chinese: separate consents, unticked, asked only there (see ``ask_pipl``).
    transfer_consent = BooleanField(_l("I separately consent to the transfer of my personal information abroad, "
                                       "as described above."))
    guardian_consent = BooleanField(_l("I am 14 or older, or my parent or guardian has read this page and "
                                       "consents to my account and to the processing of my personal information."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.age_confirmed.label.text = _l("I am at least %(age)s years old.", age=current_app.config["MIN_AGE"])

    def ask_pipl(self, guardian: bool) -> None:
        """Make the PIPL consents required (a sign-up in Chinese); the guardian's only where the
        minimum age lets a child under 14 register."""
        self.transfer_consent.validators = [DataRequired(message=_l(
            "Your data is stored and processed abroad, so we cannot open your account without this consent."))]
        self.guardian_consent.validators = [DataRequired(message=_l(
            "A child under 14 needs a parent's or guardian's consent."))] if guardian else []

    def email_for_password_check(self):
        return self.email.data


class LoginForm(BaseForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(message=_l("Enter your e-mail address."))],
                       filters=[strip])
    password = PasswordField(_l("Password"), validators=[
        InputRequired(message=_l("Enter your password.")), Length(max=MAX_LENGTH * 4)])
    remember = BooleanField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.remember.label.text = _l("Keep me signed in for %(days)s days on this device",
                                      days=current_app.config["REMEMBER_DAYS"])


class ResetRequestForm(BaseForm):
    email = EmailField(_l("E-mail address"), validators=EMAIL_VALIDATORS, filters=[strip])


class ResetPasswordForm(NewPasswordMixin, BaseForm):
    password = PasswordField(_l("New password"), validators=[InputRequired(message=_l("Choose a password."))])


class ProfileForm(BaseForm):
    nickname = StringField(_l("Nickname"), validators=[
        Optional(), Length(max=40, message=_l("Use at most 40 characters."))])
    locale = SelectField(_l("Language for pages and e-mail"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        languages = current_app.config["LANGUAGES"]
        self.locale.choices = [("", _l("Same as my browser"))] + list(languages.items())


class ChangePasswordForm(NewPasswordMixin, BaseForm):
    current_password = PasswordField(_l("Current password"), validators=[
        InputRequired(message=_l("Enter your current password."))])
    password = PasswordField(_l("New password"), validators=[InputRequired(message=_l("Choose a password."))])


class ChangeEmailForm(BaseForm):
    new_email = EmailField(_l("New e-mail address"), validators=EMAIL_VALIDATORS, filters=[strip])
    current_password = PasswordField(_l("Current password"), validators=[
        InputRequired(message=_l("Enter your current password."))])


class ActionForm(BaseForm):
    """A form with only its CSRF token: buttons that change something (sign out, end a session)."""


class SecondFactorForm(BaseForm):
    code = StringField(_l("Authentication code or recovery code"), validators=[
        DataRequired(message=_l("Enter the code from your authenticator app or a recovery code.")),
        Length(max=40)], filters=[strip])


class ReauthForm(BaseForm):
    password = PasswordField(_l("Password"), validators=[InputRequired(message=_l("Enter your password."))])
    code = StringField(_l("Authentication code or recovery code"), validators=[Optional(), Length(max=40)],
                       filters=[strip])


class EnableTwoFactorForm(BaseForm):
    code = StringField(_l("Six-digit code from the app"), validators=[
        DataRequired(message=_l("Enter the six-digit code your app shows.")), Length(max=12)], filters=[strip])


CREDENTIAL_LIMIT = 16_000  # a passkey's answer is about 1-2 KB; anything far larger is refused


def _credential_field() -> HiddenField:
    """What the page's script fills in with the authenticator's answer (JSON), then sends."""
    return HiddenField(validators=[DataRequired(message=_l("Your browser sent no passkey. Try again.")),
                                   Length(max=CREDENTIAL_LIMIT)])


class PasskeyForm(BaseForm):
    credential = _credential_field()
    remember = BooleanField()


class PasskeyReauthForm(PasskeyForm):
    """Confirming it is you with a passkey; the password too where the key does not verify its
    user (a security key that only senses a touch)."""

    key_password = PasswordField(_l("Password, if your key has no PIN or fingerprint"), validators=[Optional()])


class AddPasskeyForm(BaseForm):
    credential = _credential_field()
    name = StringField(_l("Name of the passkey"), validators=[Optional(), Length(max=60)], filters=[strip],
                       description=_l("For example the device or password manager that keeps it."))


class RenamePasskeyForm(BaseForm):
    name = StringField(_l("Name of the passkey"), validators=[DataRequired(message=_l("Enter a name.")),
                                                             Length(max=60)], filters=[strip])
