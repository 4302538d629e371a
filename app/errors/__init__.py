"""Error pages: HTML in the visitor's language, ``application/problem+json`` under ``/api/``."""

from app.errors.routes import register_error_handlers  # noqa: F401
