"""The pieces every setting is made of: its types, how its allowed values and default are told,
and the one line a bad value stops the start with. No setting is declared here (see ``site`` and
``service``)."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le
from limits import parse_many
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic.fields import FieldInfo

BASE_DIR = Path(__file__).resolve().parent.parent.parent
INSTANCE_DIR = BASE_DIR / "instance"
MAIL_SCHEMES = ("smtp", "smtps", "smtp+starttls")
MAIL_DELIVERIES = ("queue", "background", "inline")
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster")
UNSET: Any = object()  # no default of an environment's own


class ConfigError(RuntimeError):
    """Raised when the configuration cannot be used; the message is one line naming the problem."""


def _switch(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    word = value.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise ValueError("not a switch")


def _scheme_in(schemes: tuple[str, ...]):
    def check(url: str) -> str:
        if url.partition("://")[0].lower() not in schemes or "://" not in url:
            raise ValueError("scheme")
        return url
    return check


def _rate_limit(value: str) -> str:
    parse_many(value)  # raises ValueError on anything Flask-Limiter and the throttles cannot read
    return value


def _matching(pattern: str):
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError("pattern")
        return value
    return check


class Kind:
    """Marks a type of setting with the words that say what it allows. (With ``__slots__`` pydantic
    passes it by at once; a plain object costs it milliseconds per field.)"""

    __slots__ = ("allowed", "keeps_empty")

    def __init__(self, allowed: str, keeps_empty: bool = False):
        self.allowed = allowed
        self.keeps_empty = keeps_empty


# The types of settings. An empty variable is unset (its default applies) except for ``Text`` and
# the kinds that keep it (an empty TAX_RATES means no tax, an empty LOW_CREDIT_THRESHOLDS no alerts).
Text = str
Switch = Annotated[bool, BeforeValidator(_switch), Kind("on or off (1, true, yes, on / 0, false, no, off)")]
RateLimit = Annotated[str, AfterValidator(_rate_limit), Kind("limits like `10 per hour` or `5/minute;100/day`")]
RedisUrl = Annotated[str, AfterValidator(_scheme_in(REDIS_SCHEMES)),
                     Kind("a `redis://`, `rediss://`, `unix://` or `redis+cluster://` URL")]
MailUrl = Annotated[str, AfterValidator(_scheme_in(MAIL_SCHEMES)),
                    Kind("an `smtp://`, `smtps://` or `smtp+starttls://` URL")]
WebAddress = Annotated[str, AfterValidator(_scheme_in(("http", "https"))), AfterValidator(lambda u: u.rstrip("/")),
                       Kind("an `http://` or `https://` address")]
CountryCode = Annotated[str, AfterValidator(_matching(r"[A-Za-z]{2}")), AfterValidator(str.upper),
                        Kind("a two-letter country code")]
TaxRates = Annotated[str, AfterValidator(_matching(r"\s*([A-Za-z]{2}\s*:\s*\d{1,2}(\.\d{1,2})?\s*(,\s*|$))*")),
                     Kind("rates by country in percent like `DE:19,FR:20,FI:25.5`, or empty for none",
                          keeps_empty=True)]
Thresholds = Annotated[str, AfterValidator(_matching(r"\s*(\d{1,9}%?\s*(,\s*\d{1,9}%?\s*){0,4})?")),
                       Kind("up to five comma-separated thresholds like `25%` or `500`, or empty for none",
                            keeps_empty=True)]
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                     BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v)]


def setting(default: Any, meaning: str, *, development: Any = UNSET, production: Any = UNSET, shown: str = "",
            allowed: str = "", secret: bool = False, config_key: str = "", **constraints: Any) -> Any:
    """Declare a setting: its default (and the development or production default where it differs),
    what it means (the doc's "meaning" column), how the default is told when the value alone would
    not say it (``shown``), what is allowed when the type alone does not say it, whether its value
    is a secret (never printed: not at start, not by ``show-config``), and the Flask config key when
    it is not the variable's own name."""
    extra = {"development": development, "production": production, "shown": shown, "allowed": allowed,
             "secret": secret, "config_key": config_key}
    if isinstance(default, float):
        constraints.setdefault("allow_inf_nan", False)
    return Field(default, description=meaning, json_schema_extra=extra, **constraints)


def extra(field: FieldInfo, key: str) -> Any:
    return (field.json_schema_extra or {})[key]  # type: ignore[index]


def kind(field: FieldInfo) -> Kind | None:
    """The Kind of a setting's type, through ``| None``."""
    metadata = list(field.metadata)
    annotation, _ = _optional(field.annotation)
    if typing.get_origin(annotation) is Annotated:
        metadata += typing.get_args(annotation)[1:]
    return next((m for m in metadata if isinstance(m, Kind)), None)


def keeps_empty(field: FieldInfo) -> bool:
    """Whether an empty variable is a value of its own (else it is unset)."""
    found = kind(field)
    return found.keeps_empty if found else field.annotation is Text


def _optional(annotation: Any) -> tuple[Any, bool]:
    """The type inside ``X | None``, and whether it was optional."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        [inner] = [a for a in typing.get_args(annotation) if a is not type(None)]
        return inner, True
    return annotation, False


def _choices(annotation: Any) -> list[str]:
    """The values of a Literal type (through ``| None`` and Annotated); empty for other types."""
    annotation, _ = _optional(annotation)
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return [str(v) for v in typing.get_args(annotation)] if typing.get_origin(annotation) is Literal else []


def _bounds(field: FieldInfo, kind: str) -> str:
    ge = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    gt = next((m.gt for m in field.metadata if isinstance(m, Gt)), None)
    le = next((m.le for m in field.metadata if isinstance(m, Le)), None)
    if ge is not None and le is not None:
        return f"between {ge} and {le}"
    if ge is not None:
        return f"{kind}, {ge} or more"
    if gt is not None:
        return f"{kind} above {gt}"
    return kind


def allowed_text(field: FieldInfo) -> str:
    """What a setting accepts, in words: from the declaration when it says, else from its type."""
    if extra(field, "allowed"):
        return extra(field, "allowed")
    annotation, optional = _optional(field.annotation)
    choices = _choices(field.annotation)
    if kind(field):
        text = kind(field).allowed
    elif choices:
        words = [f"`{c}`" for c in choices]
        text = ", ".join(words[:-1]) + f" or {words[-1]}"
    elif annotation is int:
        text = _bounds(field, "a whole number")
    elif annotation is float:
        text = _bounds(field, "a number")
    else:
        text = "any text"
    return f"{text}, or unset" if optional and annotation is not Text else text


def _literal(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value == "":
        return "empty"
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


def default_text(field: FieldInfo) -> str:
    """The default, as the doc shows it: the declared words, or the value and the environments'
    own defaults."""
    if extra(field, "shown"):
        return extra(field, "shown")
    text = _literal(field.default)
    others = [f"{env}: {_literal(extra(field, env))}" for env in ("development", "production")
              if extra(field, env) is not UNSET]
    return f"{text} ({'; '.join(others)})" if others else text


def shown_value(value: Any, secret: bool) -> str:
    """A value as it may be printed: a secret only as set or unset, a URL without its password."""
    if secret:
        return "set (not shown)" if value else "unset"
    if value is None or isinstance(value, bool) or value == "":
        return _literal(value)
    if isinstance(value, str):
        return re.sub(r"((?:^|://)[^:@/]*:)[^/]*@", r"\1***@", value)
    return str(value)


def problem(name: str, field: FieldInfo, value: Any) -> str:
    """The one line naming a setting that was given a value it does not allow."""
    got = "" if extra(field, "secret") else f", got {shown_value(value, False)!r}"
    return f"{name} must be {allowed_text(field).replace('`', '')}{got}"
