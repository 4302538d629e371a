"""Error handlers registered on the application."""

from __future__ import annotations

import json

from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from app.errors.services import error_texts, problem


def wants_problem_json() -> bool:
    """API clients get problem documents; browsers get pages."""
    return request.path == "/api" or request.path.startswith("/api/")


def problem_response(status: int, detail: str | None = None, headers=None, **extra):
    """An ``application/problem+json`` response (RFC 9457)."""
    title = HTTP_STATUS_CODES.get(status, "Error")
    body = json.dumps(problem(status, title, detail, **extra))
    response = current_app.response_class(body, status=status, mimetype="application/problem+json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _retry_after(error: HTTPException) -> dict:
    original = getattr(error, "response", None)
    if original is not None and original.headers.get("Retry-After"):
        return {"Retry-After": original.headers["Retry-After"]}
    return {}


def handle_http_error(error: HTTPException):
    status = error.code or 500
    headers = {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    headers.update(_retry_after(error))
    if wants_problem_json():
        return problem_response(status, error.description, headers)
    title, explanation = error_texts(status)
    if isinstance(error, CSRFError):
        explanation = _(
            "Your form expired or was sent from another site. Please go back, reload the page and try again."
        )
    html = render_template("errors/error.html", status=status, title=title, explanation=explanation)
    return html, status, headers


def handle_unexpected_error(error: Exception):
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    return handle_http_error(InternalServerError())


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
