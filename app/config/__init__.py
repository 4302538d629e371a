"""Configuration, read from the environment when it is loaded. Pick one with ``APP_ENV``
(``development``, the default, ``production`` or ``testing``). A ``.env`` file in the project root
is read first when present (it never overrides variables already set in the environment).

Every variable is one field of one typed model (``model.Settings``, declared in ``site`` and
``service``): its default, its allowed values and what it means. A bad value stops the start with
one line naming the setting, the value (never a secret's) and what is allowed; ``flask show-config``
and the tables of ``docs/configuration.md`` are made from the same model."""

from __future__ import annotations

import os
from collections.abc import Mapping

from dotenv import load_dotenv

from app.config.environments import (
    CONFIGS,
    SECRET_KEY_MIN_BYTES,
    SECRET_KEY_MIN_DISTINCT,
    Config,
    DevelopmentConfig,
    ProductionConfig,
    TestingConfig,
    normalise_database_url,
)
from app.config.fields import BASE_DIR, INSTANCE_DIR, MAIL_DELIVERIES, MAIL_SCHEMES, REDIS_SCHEMES, ConfigError
from app.config.service import Retention
from app.config.site import DEFAULT_TAX_RATES

# Retention periods in days by setting name, and their defaults (docs/policy-map.md, app/retention.py).
RETENTION_DAYS = {name: field.default for name, field in Retention.model_fields.items()}

__all__ = [
    "BASE_DIR", "CONFIGS", "DEFAULT_TAX_RATES", "INSTANCE_DIR", "MAIL_DELIVERIES", "MAIL_SCHEMES", "REDIS_SCHEMES",
    "RETENTION_DAYS", "SECRET_KEY_MIN_BYTES", "SECRET_KEY_MIN_DISTINCT", "Config", "ConfigError", "DevelopmentConfig",
    "ProductionConfig", "TestingConfig", "load_config", "normalise_database_url",
]


def load_config(name: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Build and validate the configuration called ``name`` (default: ``APP_ENV``) from ``environ``
    (default: the process environment, after ``.env``). Raises ConfigError with one line."""
    if environ is None:
        load_dotenv(BASE_DIR / ".env", override=False)
        environ = os.environ
    name = name or environ.get("APP_ENV") or "development"
    try:
        cls = CONFIGS[name]
    except KeyError as exc:
        raise ConfigError(f"APP_ENV must be one of {', '.join(sorted(CONFIGS))}, got {name!r}.") from exc
    config = cls(environ)
    config.validate()
    return config
