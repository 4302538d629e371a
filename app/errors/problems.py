"""Problem documents (RFC 9457) and outage reports, for any view that answers a machine: the API's
views and the error handlers both import them from here, so no routes module imports another."""

from __future__ import annotations

import json

from flask import current_app
from werkzeug.http import HTTP_STATUS_CODES

from app.errors.services import OutageLog, problem


def report_outage(name: str, exc: BaseException) -> None:
    """Log a dependency's failure: the first of an outage with its traceback, then counts."""
    current_app.extensions.setdefault("twtapi_outages", OutageLog()).report(current_app.logger, name, exc)


def problem_response(status: int, detail: str | None = None, headers=None, **extra):
    """An ``application/problem+json`` response (RFC 9457)."""
    title = HTTP_STATUS_CODES.get(status, "Error")
    body = json.dumps(problem(status, title, detail, **extra))
    response = current_app.response_class(body, status=status, mimetype="application/problem+json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
