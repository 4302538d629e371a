"""The one model of every setting (``Settings``), read from an environment mapping, and what is
made from it: the one line a bad value stops the start with, and ``flask show-config``'s list
(``reference`` makes the tables of docs/configuration.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from app.config.fields import UNSET, ConfigError, extra, keeps_empty, problem, shown_value
from app.config.service import Accounts, Consent, Gateway, Requests, Retention
from app.config.site import Mail, Payments, Serving, SiteAndStores

SECTIONS = (SiteAndStores, Mail, Serving, Accounts, Gateway, Payments, Requests, Consent, Retention)


class Settings(*reversed(SECTIONS), BaseSettings):  # type: ignore[misc]
    """Every environment variable the application reads, typed, with its default and allowed values.

    Built by ``from_environ``, never from ``os.environ`` behind the caller's back: the mapping is
    explicit so the process environment and a test's dict are read the same way."""

    model_config = SettingsConfigDict(defer_build=False, case_sensitive=True, extra="forbid", validate_default=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   **_sources: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # from_environ hands over the variables (and the environment's defaults)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], env_name: str) -> Settings:
        """The settings in ``environ`` for the environment ``env_name``. An empty variable is unset
        unless its type keeps empty text. Raises ConfigError with one line naming every bad value."""
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            raw = environ.get(name)
            if raw is not None and (raw.strip() or keeps_empty(field)):
                values[name] = raw
            elif env_name in ("development", "production") and extra(field, env_name) is not UNSET:
                values[name] = extra(field, env_name)
        try:
            settings = cls(**values)
        except ValidationError as exc:
            problems = {}
            for error in exc.errors(include_url=False, include_context=False):
                name = str(error["loc"][0])
                problems.setdefault(name, problem(name, cls.model_fields[name], values.get(name)))
            raise ConfigError("; ".join(problems.values()) + ".") from None
        if settings.API_METERING == "redis" and not settings.REDIS_URL:
            raise ConfigError("API_METERING=redis needs REDIS_URL (or set API_METERING=database).")
        return settings


def shown_settings(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every setting with the value in force in ``config`` (an application's), as it may be printed:
    secrets only as set or unset, URLs without their passwords."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = config.get(extra(field, "config_key") or name)
        rows.append((name, shown_value(value, extra(field, "secret"))))
    return rows
