"""The unit of work (app/uow.py): a request's work is committed once, after a view that answered
without an error and before the response is sent; an error or an exception keeps nothing and
sends nothing, unless the view said ``keep_on_error()``. Jobs use ``atomic()``.

The views here are the test's own (a real application, real HTTP through the test client, the
real outbox and SMTP server): each writes a queued e-mail, the simplest row with a side effect."""

import pytest
from flask import Response, stream_with_context
from sqlalchemy import create_engine, func, select, text

from app.email import OutboxMessage, queue_email
from app.extensions import db as _db
from app.security import public
from app.uow import atomic, keep_on_error


def _queue(recipient: str) -> None:
    queue_email(recipient, "password_changed", "en", reset_url="https://x/reset", support_email="s@example.com")


def _committed_messages(app) -> int:
    """Counted on a connection of its own: only what is committed."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM outbox_messages")).scalar()
    finally:
        engine.dispose()


@pytest.fixture
def uow_app(make_app):
    app = make_app()

    @public
    def answer(status: int):
        _queue(f"status{status}@example.com")
        return "done", status

    @public
    def answer_keeping(status: int):
        _queue(f"kept{status}@example.com")
        keep_on_error()
        return "refused, on record", status

    @public
    def fail():
        _queue("failed@example.com")
        raise RuntimeError("the view broke after queueing mail")

    @public
    def stream():
        _queue("streamed@example.com")

        def body():
            yield f"{_committed_messages(app)} committed before the body\n"
        return Response(stream_with_context(body()), mimetype="text/plain")

    app.add_url_rule("/_uow/answer/<int:status>", "uow_answer", answer)
    app.add_url_rule("/_uow/keep/<int:status>", "uow_keep", answer_keeping)
    app.add_url_rule("/_uow/fail", "uow_fail", fail)
    app.add_url_rule("/_uow/stream", "uow_stream", stream)
    return app


def _stored(app) -> list[str]:
    with app.app_context():
        return list(_db.session.scalars(select(OutboxMessage.recipient).order_by(OutboxMessage.id)))


@pytest.mark.parametrize("status", [200, 201, 303])
def test_a_successful_view_s_work_is_committed_and_its_mail_sent_after_the_commit(uow_app, outbox, status):
    response = uow_app.test_client().get(f"/_uow/answer/{status}")
    assert response.status_code == status
    assert [m["To"] for m in outbox] == [f"status{status}@example.com"]
    assert _stored(uow_app) == [f"status{status}@example.com"]


@pytest.mark.parametrize("status", [400, 403, 404, 409, 429])
def test_an_error_response_keeps_nothing_and_sends_nothing(uow_app, outbox, status):
    assert uow_app.test_client().get(f"/_uow/answer/{status}").status_code == status
    assert outbox == []
    assert _stored(uow_app) == []


@pytest.mark.parametrize("status", [400, 429])
def test_a_view_that_keeps_its_work_on_an_error_says_so(uow_app, outbox, status):
    response = uow_app.test_client().get(f"/_uow/keep/{status}")
    assert response.status_code == status
    assert [m["To"] for m in outbox] == [f"kept{status}@example.com"]
    assert _stored(uow_app) == [f"kept{status}@example.com"]


def test_an_exception_keeps_nothing_and_sends_nothing(uow_app, outbox):
    assert uow_app.test_client().get("/_uow/fail").status_code == 500
    assert outbox == []
    assert _stored(uow_app) == []


def test_a_streamed_response_is_committed_before_its_body(uow_app):
    response = uow_app.test_client().get("/_uow/stream")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1 committed before the body\n"


def test_atomic_commits_a_job_s_work_and_rolls_back_a_failed_one(app, outbox):
    with app.app_context():
        with atomic():
            _queue("job@example.com")
        with pytest.raises(RuntimeError), atomic():
            _queue("broken-job@example.com")
            raise RuntimeError("the job failed")
        assert list(_db.session.scalars(select(OutboxMessage.recipient))) == ["job@example.com"]
        assert _db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert outbox == []  # a job's mail waits for the sender (no request, no inline delivery)
