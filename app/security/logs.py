"""Log redaction: e-mailed tokens and API keys never reach the web server's log lines."""

from __future__ import annotations

import logging
import re

_SECRET_PATH = re.compile(
    r"(/(?:verify-email|reset-password|contact/thread|privacy/request/status|mail/unsubscribe)/)[^\s/?\"]+")
_API_KEY = re.compile(r"twt_[A-Za-z0-9_-]{8,}")


class RedactSecretsFilter(logging.Filter):
    """Hide e-mailed tokens in request paths, and API keys sent (wrongly) in query strings, in the
    lines the web server logs (werkzeug, gunicorn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _API_KEY.sub("twt_[redacted]", _SECRET_PATH.sub(r"\1[redacted]", message))
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def register_log_redaction() -> None:
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
