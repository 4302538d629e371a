"""Log redaction: capability tokens in URLs and API keys never reach the web server's log lines.

A URL argument whose name says it is a capability (``CAPABILITY_ARGUMENT``: a token, a secret, a
signature, a request or checkout session id that opens a page by itself) is redacted in every route
that has one: ``register_log_redaction(app)`` reads them from the application's URL map, so a new
route with such an argument is covered without a list to keep up to date.
"""

from __future__ import annotations

import logging
import re

from flask import Flask

CAPABILITY_ARGUMENT = re.compile(r"token|secret|signature|nonce|^request_id$|^session_id$")
# The e-mailed links, also for log lines from a process that built no application.
_KNOWN_PREFIXES = ("/verify-email/", "/reset-password/", "/contact/thread/", "/privacy/request/status/",
                   "/mail/unsubscribe/")
# Also when the query is itself in a query, URL-encoded (the sign-in page's ``next``).
_SECRET_QUERY = re.compile(
    r"((?:[?&]|%3F|%26)(?:token|secret|signature|code|api_key|key)(?:=|%3D))(?:(?!%26)[^&\s\"])+", re.IGNORECASE)
_API_KEY = re.compile(r"twt_[A-Za-z0-9_-]{8,}")
_PLACEHOLDER = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")
_NUMBERS = ("int", "float")  # a row id is no capability

_prefixes: set[str] = set(_KNOWN_PREFIXES)
_secret_path = re.compile("x^")


def _compile() -> None:
    global _secret_path
    alternatives = "|".join(re.escape(p) for p in sorted(_prefixes, key=len, reverse=True))
    _secret_path = re.compile(rf"({alternatives})[^\s/?\"#]+")


_compile()


def capability_prefixes(url_map) -> set[str]:
    """For each route argument named like a capability, the fixed part of the path before it
    (from the previous argument or the start), e.g. ``/alerts/confirm/`` for ``/alerts/confirm/<token>``."""
    found = set()
    for rule in url_map.iter_rules():
        start = 0
        for match in _PLACEHOLDER.finditer(rule.rule):
            if match.group(1) not in _NUMBERS and CAPABILITY_ARGUMENT.search(match.group(2)):
                prefix = rule.rule[start:match.start()]
                if prefix.strip("/"):
                    found.add(prefix)
            start = match.end()
    return found


def redact(message: str) -> str:
    """The line with capabilities in paths and query strings, and API keys, replaced by [redacted]."""
    message = _secret_path.sub(r"\1[redacted]", message)
    message = _SECRET_QUERY.sub(r"\1[redacted]", message)
    return _API_KEY.sub("twt_[redacted]", message)


class RedactSecretsFilter(logging.Filter):
    """Hide capability tokens in request paths and query strings, and API keys sent (wrongly) in
    query strings, in the lines the web server logs (werkzeug, gunicorn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def register_log_redaction(app: Flask | None = None) -> None:
    """Filter the web servers' loggers; with ``app``, learn its capability routes (call it once
    every route is registered)."""
    if app is not None:
        new = capability_prefixes(app.url_map) - _prefixes
        if new:
            _prefixes.update(new)
            _compile()
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
