"""The retention registry and `flask privacy purge`."""

from datetime import timedelta

from sqlalchemy import func, select

from app import retention
from app.auth.models import AccountToken, User, UserSession
from app.email import OutboxMessage
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.fixtures.visitor import AuthActions


def test_every_table_with_personal_data_has_a_rule(app):
    with app.app_context():
        personal = retention.personal_tables()
    covered = {rule.table for rule in retention.RULES}
    assert personal, "no column is tagged as personal data"
    assert sorted(set(personal) - covered) == []
    assert {"users", "user_sessions", "account_tokens", "outbox_messages"} <= set(personal)


def test_rules_name_their_period_setting_and_keep_rules_a_legal_basis(app):
    for rule in retention.RULES:
        assert rule.days_setting in app.config, rule.name
        if rule.action == "keep":
            assert rule.legal_basis, rule.name
        else:
            assert rule.selects is not None, rule.name


def _count(model):
    return _db.session.scalar(select(func.count()).select_from(model))


def _age_everything(days: int) -> None:
    past = utcnow() - timedelta(days=days)
    for model, columns in (
        (User, ["created_at"]),
        (UserSession, ["created_at", "last_seen_at"]),
        (OutboxMessage, ["created_at", "sent_at"]),
    ):
        _db.session.execute(model.__table__.update().values({c: past for c in columns}))
    _db.session.execute(AccountToken.__table__.update().values(expires_at=past))
    _db.session.commit()


def test_purge_applies_each_rule_reports_counts_and_is_idempotent(app, client, outbox):
    auth = AuthActions(client, outbox)
    auth.register("kept@example.com")  # verified: stays
    auth.register("never@example.com", verify=False)  # never verified: deleted after 30 days
    auth.login("kept@example.com")
    with app.app_context():
        _age_everything(days=40)
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert "users.unverified: would touch 1" in dry.output
    with app.app_context():
        assert _count(User) == 2

    result = runner.invoke(args=["privacy", "purge", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "users.unverified: touched 1" in result.output
    assert "outbox.sent: touched" in result.output
    with app.app_context():
        assert [u.email for u in _db.session.scalars(select(User))] == ["kept@example.com"]
        assert _count(OutboxMessage) == 0
        assert _count(AccountToken) == 0
        # The session idled past its retention: deleted; the user is signed out.
        assert _count(UserSession) == 0

    again = runner.invoke(args=["privacy", "purge"])
    counted = [line for line in again.output.splitlines() if ": touched " in line or ": erased " in line]
    assert counted and all(line.endswith(" 0") for line in counted)


def test_session_ips_are_truncated_after_7_days(app, client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login(remember=True, environ_base={"REMOTE_ADDR": "203.0.113.77"})
    with app.app_context():
        row = _db.session.scalar(select(UserSession))
        assert row.ip == "203.0.113.77"
        row.created_at -= timedelta(days=8)
        _db.session.commit()
        retention.purge(app.config, utcnow())
        row = _db.session.scalar(select(UserSession))
        assert row.ip == "203.0.113.0"
        assert row.ip_truncated
    assert client.get("/account").status_code == 200  # the remembered session itself lives on


def test_truncate_ip():
    assert retention.truncate_ip("198.51.100.23") == "198.51.100.0"
    assert retention.truncate_ip("2001:db8:abcd:12:34::1") == "2001:db8:abcd::"
    assert retention.truncate_ip("garbage") is None
    assert retention.truncate_ip(None) is None


def test_periods_come_from_configuration(make_app, outbox):
    app = make_app(UNVERIFIED_ACCOUNT_DAYS=90)
    client = app.test_client()
    AuthActions(client, outbox).register("never@example.com", verify=False)
    with app.app_context():
        _age_everything(days=40)
        assert retention.purge(app.config, utcnow())["users.unverified"] == 0
        assert retention.purge(app.config, utcnow() + timedelta(days=60))["users.unverified"] == 1
