"""The unit of work: the one owner of the database transaction.

A request's work is committed here, once, after its view returned a response that is not an
error (status below 400) and before the response is sent; an exception or an error response
rolls it back. A view that must keep its work while answering an error (a failed sign-in's
counter, a refused API call's log row, a webhook's 400 after recording the event) says so with
``keep_on_error()``. Jobs and CLI commands wrap their work in ``atomic()``.

Side effects that must not happen for work that is rolled back (mail delivery, meter
notifications, webhook deliveries) are queued with ``on_commit(fn)`` and run after the commit,
outside the transaction; a rollback drops them.

Nothing else in ``app/`` commits or rolls back, except ``commit_now(reason)`` for a step that
must be durable before an outside call (named, with its reason) and the few modules listed in
tests/test_structure.py, each with the reason in a comment where it commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, g, has_request_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)

HOOKS = "uow_on_commit"
CONNECTION = "uow_connection"  # the connection of the session's transaction
WROTE = "uow_wrote"  # set on that connection by a statement that is not a read
READS = ("SELECT", "PRAGMA", "SHOW", "SAVEPOINT", "RELEASE", "ROLLBACK")


def keep_on_error() -> None:
    """Commit this request's work even though the response is an error (4xx/5xx status): the
    view recorded something that must stay (a throttle's counter, a refused call's log row)."""
    g.uow_keep_on_error = True


def on_commit(hook: Callable[[], None]) -> None:
    """Run ``hook`` after the current transaction commits (never when it rolls back)."""
    db.session.info.setdefault(HOOKS, []).append(hook)


def commit_now(reason: str) -> None:
    """Commit the session's work so far, at once: for a step that must be durable before an
    outside call (an audit row written before Stripe is asked). ``reason`` says why, in the log."""
    log.debug("commit_now: %s", reason)
    db.session.commit()
    _run_hooks()


@contextmanager
def atomic() -> Iterator[None]:
    """Jobs and CLI commands: commit the block's work on success, roll it back on an exception;
    then run the after-commit hooks it queued."""
    try:
        yield
    except BaseException:
        _rollback()
        raise
    db.session.commit()
    _run_hooks()


def finish(response):
    """After the view (the last after-request step): commit, or roll back an error response. A
    request that wrote nothing ends its read transaction without a commit."""
    if not (response.status_code < 400 or g.pop("uow_keep_on_error", False)) or not _wrote():
        _rollback()
        return response
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = not response.is_streamed  # a streamed body still reads what the view loaded
    try:
        session.commit()
    except Exception:
        _rollback()
        raise
    finally:
        session.expire_on_commit = expire
    _run_hooks()
    return response


def _wrote() -> bool:
    """Whether the session's transaction holds work: objects to flush, hooks waiting, or a
    statement other than a read sent on its connection."""
    session = db.session()
    if session.new or session.dirty or session.deleted or session.info.get(HOOKS):
        return True
    connection = session.info.get(CONNECTION)
    return session.in_transaction() and connection is not None and connection.info.get(WROTE, False)


def _teardown(error: BaseException | None) -> None:
    """An exception that escaped every handler: nothing of the request's work stays."""
    if error is not None:
        _rollback()


def _rollback() -> None:
    db.session.info.pop(HOOKS, None)
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the database itself may be what failed
        db.session.remove()


def _run_hooks() -> None:
    """Run (and forget) the hooks queued for the transaction that has just committed. A failing
    hook is logged: the work is committed, and each side effect has a job that retries it."""
    hooks = db.session.info.pop(HOOKS, [])
    for hook in hooks:
        try:
            hook()
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("An after-commit step failed; its job will retry")
            if has_request_context():
                _rollback()


def _drop_hooks(session: Session) -> None:
    """A rollback (whoever asked for it) takes the queued side effects with the work."""
    session.info.pop(HOOKS, None)


def _began(session: Session, _transaction, connection) -> None:
    session.info[CONNECTION] = connection
    connection.info.pop(WROTE, None)


def _statement(connection, _cursor, statement: str, *_args) -> None:
    if not connection.info.get(WROTE) and not statement.lstrip()[:9].upper().startswith(READS):
        connection.info[WROTE] = True


def register_unit_of_work(app: Flask) -> None:
    """Register first, so its after-request step runs last (Flask runs them in reverse)."""
    app.after_request(finish)
    app.teardown_request(_teardown)
    if not event.contains(Session, "after_rollback", _drop_hooks):
        event.listen(Session, "after_rollback", _drop_hooks)
        event.listen(Session, "after_begin", _began)
        event.listen(Engine, "before_cursor_execute", _statement)
