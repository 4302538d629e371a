"""The outbox: queued in the transaction, sent after commit, retried while SMTP is down."""

from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy

from sqlalchemy import select

from app.email import OutboxMessage, backoff, deliver_due, queue_email
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.conftest import AuthActions, submit


def test_messages_carry_text_and_html_in_the_recipients_language(app, outbox):
    with app.test_request_context():
        queue_email("li@example.com", "reset_password", "zh_Hans", reset_url="https://x/reset/abc", minutes=60)
        _db.session.commit()
        deliver_due(app.config)
    message = outbox[0]
    assert message["To"] == "li@example.com"
    assert "重置" in message["Subject"]
    assert message["Content-Language"] == "zh-Hans"
    assert "https://x/reset/abc" in message.get_body(("plain",)).get_content()
    assert 'href="https://x/reset/abc"' in message.get_body(("html",)).get_content()


def test_nothing_is_sent_when_the_transaction_rolls_back(app, outbox):
    with app.test_request_context():
        queue_email("a@example.com", "password_changed", "en", reset_url="https://x", support_email="s@x.com")
        _db.session.rollback()
        assert deliver_due(app.config, now=utcnow() + timedelta(days=1)) == {"sent": 0, "failed": 0}
    assert outbox == []


def test_smtp_down_then_up_loses_nothing(make_app, outbox, smtp_server, caplog):
    """The request succeeds while SMTP is down; the job delivers once it is back."""
    controller, _ = smtp_server
    down = make_app(MAIL_URL="smtp://127.0.0.1:1")  # nothing listens on port 1
    client = down.test_client()
    response = submit(client, "/register", {
        "email": "alice@example.com", "password": AuthActions.PASSWORD, "age_confirmed": "y"})
    assert response.status_code == 200
    assert outbox == []
    with down.app_context():
        message = _db.session.scalar(select(OutboxMessage))
        assert message.sent_at is None and message.attempts == 1
        assert message.last_error.startswith("ConnectionRefusedError")
        assert message.next_attempt_at > utcnow()
        # Still down at the next run: the back-off grows.
        deliver_due(down.config, now=message.next_attempt_at)
        assert _db.session.scalar(select(OutboxMessage)).attempts == 2
    up = make_app(MAIL_URL=f"smtp://127.0.0.1:{controller.port}")
    result = up.test_cli_runner().invoke(args=["mail", "send-queued"])
    assert "sent 0" in result.output  # not due yet: back-off is respected
    with up.app_context():
        counts = deliver_due(up.config, now=utcnow() + timedelta(hours=1))
    assert counts == {"sent": 1, "failed": 0}
    assert [m["To"] for m in outbox] == ["alice@example.com"]


def test_delivered_messages_keep_no_body(app, auth, outbox):
    auth.register(verify=False)
    with app.app_context():
        message = _db.session.scalar(select(OutboxMessage))
        assert message.sent_at is not None
        assert message.body_text == "" and message.body_html == ""
        assert "/verify-email/" not in message.subject


def test_backoff_doubles_up_to_six_hours():
    assert [backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(30) == timedelta(hours=6)


def test_development_writes_eml_files(make_app, tmp_path):
    app = make_app(MAIL_URL=None, MAIL_DIR=str(tmp_path))
    client = app.test_client()
    submit(client, "/register", {"email": "alice@example.com", "password": AuthActions.PASSWORD,
                                 "age_confirmed": "y"})
    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1
    message = message_from_bytes(files[0].read_bytes(), policy=email_policy.default)
    assert message["To"] == "alice@example.com"
    assert "/verify-email/" in message.get_body(("plain",)).get_content()


def test_no_mail_carries_a_password(app, client, auth, outbox):
    auth.register()
    auth.login()
    submit(client, "/reset-password", {"email": "alice@example.com"})
    assert outbox
    for message in outbox:
        assert AuthActions.PASSWORD not in message.as_string()
