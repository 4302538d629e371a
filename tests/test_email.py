"""The outbox: queued in the transaction, sent after commit, retried while SMTP is down."""

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.email import OutboxMessage, backoff, deliver_due, queue_email
from app.extensions import db as _db
from app.mail_preferences import BY_NAME, TEMPLATES, choose
from app.timeutil import utcnow
from tests.fixtures.factories import UserFactory
from tests.fixtures.visitor import AuthActions, submit


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


# --- requests only write the outbox; runners claim what they send ---------------------------------

class HangingSMTP:
    """A mail server that accepts connections and never answers (counts who connected)."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.connections:
            conn.close()


def test_a_request_never_talks_to_the_mail_server(make_app, outbox):
    hanging = HangingSMTP()
    try:
        app = make_app(MAIL_DELIVERY="queue", MAIL_URL=f"smtp://127.0.0.1:{hanging.port}")
        client = app.test_client()
        AuthActions(client, outbox).register(verify=False)
        known = submit(client, "/reset-password", {"email": "alice@example.com"})
        assert known.status_code == 200
        assert hanging.connections == []  # the request only wrote the outbox
        with app.app_context():
            queued = _db.session.scalars(select(OutboxMessage.template).where(OutboxMessage.sent_at.is_(None))).all()
        assert sorted(queued) == ["reset_password", "verify_email"]
    finally:
        hanging.close()


def test_queued_bodies_are_encrypted_so_live_links_are_not_readable_in_the_table(make_app, outbox):
    from sqlalchemy import text

    app = make_app(MAIL_DELIVERY="queue")
    client = app.test_client()
    AuthActions(client, outbox).register(verify=False)
    submit(client, "/reset-password", {"email": "alice@example.com"})
    with app.app_context():
        raw = _db.session.execute(text("SELECT body_text || body_html FROM outbox_messages")).scalars().all()
        plain = _db.session.scalars(select(OutboxMessage.body_text)).all()
    assert len(raw) == 2
    assert all("/reset-password/" not in body and "/verify-email/" not in body for body in raw)
    assert any("/reset-password/" in body for body in plain)  # the sender can still read them


def test_two_overlapping_runners_send_each_message_exactly_once(make_app, outbox, database_url, smtp_server):
    import os
    import subprocess
    import sys

    from app.crypto import development_key
    from tests.server import ROOT

    app = make_app(MAIL_DELIVERY="queue")
    with app.test_request_context():
        for n in range(150):
            queue_email(f"user{n}@example.com", "password_changed", "en", reset_url="https://x", support_email="s@x")
        _db.session.commit()
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": database_url,
           "SECRET_KEY": "runner-tests-" + "x" * 24, "DATA_ENCRYPTION_KEYS": development_key("testing-only-not-secret"),
           "MAIL_URL": f"smtp://127.0.0.1:{smtp_server[0].port}", "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "send-queued"]
    runners = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603
               for _ in range(2)]
    outputs = [runner.communicate(timeout=120) for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0], outputs
    recipients = [message["To"] for message in outbox]
    assert len(recipients) == 150 and len(set(recipients)) == 150
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.sent_at.is_(None))) == 0


def test_development_delivers_at_once_from_a_background_thread(make_app, tmp_path, outbox):
    import time

    app = make_app(MAIL_DELIVERY="background", MAIL_URL=None, MAIL_DIR=str(tmp_path))
    AuthActions(app.test_client(), outbox).register(verify=False)
    deadline = time.monotonic() + 20
    while not list(tmp_path.glob("*-verify_email.eml")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(tmp_path.glob("*-verify_email.eml"))


def test_the_date_header_says_utc_as_plus_0000(app, outbox):
    """RFC 5322 3.3: "-0000" means the local time zone is unknown; our time is UTC: "+0000"."""
    with app.test_request_context():
        queue_email("a@example.com", "password_changed", "en", reset_url="https://x", support_email="s@x.com")
        _db.session.commit()
        deliver_due(app.config)
    date = outbox[0]["Date"]
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", str(date)), date
    assert abs(parsedate_to_datetime(str(date)) - datetime.now(UTC)) < timedelta(hours=1)


def test_every_mail_template_has_a_category():
    """A new kind of mail says whether people may turn it off (app/mail_preferences.py)."""
    folder = Path(__file__).resolve().parents[1] / "app" / "templates" / "email"
    templates = {p.name for p in folder.iterdir() if p.is_dir()}
    assert templates - set(TEMPLATES) == set()
    assert set(TEMPLATES) - templates == set()
    assert all(category in BY_NAME for category in TEMPLATES.values())


def test_optional_mail_must_name_its_account_and_is_not_queued_once_turned_off(app, outbox):
    with app.test_request_context():
        user = UserFactory(email="o@example.com")
        _db.session.flush()
        context = {"name": "k", "prefix": "twt_x", "expires_on": "2026-12-10", "keys_url": "https://x/keys"}
        with pytest.raises(ValueError, match="user_id"):
            queue_email("o@example.com", "api_key_expiring", "en", **context)
        choose(user.id, "key_expiry", False, utcnow(), "page")
        assert queue_email("o@example.com", "api_key_expiring", "en", user_id=user.id, **context) is None
        _db.session.commit()
    assert outbox == []
