"""Error handlers registered on the application."""

from __future__ import annotations

import redis
import sqlalchemy.exc
from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from app.errors.problems import problem_response, report_outage
from app.errors.services import RETRY_AFTER_SECONDS, error_texts
from app.extensions import db
from app.metering.types import MeteringUnavailable


def wants_problem_json() -> bool:
    """API clients get problem documents; browsers get pages."""
    return request.path == "/api" or request.path.startswith("/api/")


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


def dependency_of(error: BaseException) -> str | None:
    """``database`` or ``redis`` when ``error`` means that dependency cannot be reached."""
    if isinstance(error, sqlalchemy.exc.DBAPIError) and (
            error.connection_invalidated or isinstance(error, sqlalchemy.exc.OperationalError)):
        return "database"
    if isinstance(error, sqlalchemy.exc.TimeoutError | sqlalchemy.exc.PendingRollbackError):
        return "database"
    if isinstance(error, redis.ConnectionError | redis.TimeoutError | MeteringUnavailable):
        return "redis"
    return None


def unavailable_response(status: int = 503):
    """503 with Retry-After: a problem document under /api, a page elsewhere."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if wants_problem_json():
        return problem_response(status, _("A part of the service is briefly unavailable; nothing was charged. "
                                          "Retry after the number of seconds in Retry-After."), headers)
    title, explanation = error_texts(status)
    return render_template("errors/error.html", status=status, title=title, explanation=explanation), status, headers


def handle_unexpected_error(error: Exception):
    if isinstance(error, UnicodeDecodeError):  # bytes in the URL or form that are not UTF-8
        return handle_http_error(BadRequest())
    if isinstance(error, OverflowError | sqlalchemy.exc.DataError):  # a number past the database's range
        _rollback()
        return handle_http_error(BadRequest())
    dependency = dependency_of(error)
    _rollback()
    if dependency is not None:
        report_outage(dependency, error)
        return unavailable_response()
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    return handle_http_error(InternalServerError())


def _rollback() -> None:
    """Leave the session usable for the error page (it may read the database)."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the database itself may be what failed
        db.session.remove()


class UndecodableQuery:
    """WSGI middleware: a query string that is not UTF-8 is removed and the request marked, so
    the app answers 400 (its error page can still render links to the current page)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING", "")
        if query:
            try:
                query.encode("latin-1").decode("utf-8")
            except UnicodeError:
                environ["QUERY_STRING"] = ""
                environ["twtapi.undecodable_query"] = True
        return self.wsgi_app(environ, start_response)


def reject_undecodable_input():
    if request.environ.get("twtapi.undecodable_query"):
        raise BadRequest()


def init_app(app: Flask) -> None:
    """Undecodable input gets a 400 first; every error an HTML page or a problem+json body."""
    app.wsgi_app = UndecodableQuery(app.wsgi_app)
    app.before_request_funcs.setdefault(None, []).insert(0, reject_undecodable_input)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
