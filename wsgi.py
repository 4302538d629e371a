"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi <command>``."""

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # one clear line instead of a traceback
    raise SystemExit(f"TwtAPI cannot start: {exc}") from None
