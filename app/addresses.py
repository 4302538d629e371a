"""E-mail addresses in their one canonical form: the stored form of an account's address, and the
form every throttle keys on, so no spelling of an address (full-width letters, upper case, a
Unicode variant) counts apart from the others."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email


class InvalidEmail(ValueError):
    """The address is not a valid e-mail address."""


def normalise_email(raw: str) -> str:
    """The stored form of an address: validated, normalised (NFKC), lower-cased. Raises InvalidEmail."""
    try:
        result = validate_email((raw or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc
    return result.normalized.lower()


def canonical_email(raw: str) -> str:
    """``normalise_email``, or for something that is not an address, its NFKC case-folded text."""
    try:
        return normalise_email(raw)
    except InvalidEmail:
        return unicodedata.normalize("NFKC", (raw or "").strip()).casefold()
