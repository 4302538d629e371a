"""Command-line helpers."""

from sqlalchemy import select

from app.auth.models import User
from app.extensions import db as _db
from tests.fixtures.visitor import AuthActions


def test_show_config_redacts_the_database_password(make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://app:hunter2-secret@db.internal/twtapi")
    result = app.test_cli_runner().invoke(args=["show-config"])
    assert result.exit_code == 0
    assert "hunter2-secret" not in result.output
    assert "postgresql+psycopg://app:***@db.internal/twtapi" in result.output
    assert "testing" in result.output


def test_show_config_says_memory_limits_count_per_worker_process(make_app):
    output = make_app(REDIS_URL=None, RATELIMIT_STORAGE_URI="memory://").test_cli_runner().invoke(
        args=["show-config"]).output
    assert "every limit counts per worker process" in output
    assert "demo mode" in output and "demo checkout" in output


def test_demo_data_is_idempotent_and_signs_in(app, client, runner):
    first = runner.invoke(args=["demo-data"])
    second = runner.invoke(args=["demo-data"])
    assert first.exit_code == second.exit_code == 0
    assert "Created demo customer" in first.output
    assert "Already present" in second.output
    with app.app_context():
        users = {u.email: u for u in _db.session.scalars(select(User))}
        assert set(users) == {"demo@twtapi.com", "admin@twtapi.com"}
        assert users["demo@twtapi.com"].is_verified and not users["demo@twtapi.com"].is_staff
        assert users["admin@twtapi.com"].role_names == {"support", "privacy", "billing", "admin"}
    password = first.output.split("password:")[1].split()[0]
    response = AuthActions(client, []).login("demo@twtapi.com", password)
    assert response.status_code == 303


def test_demo_data_is_refused_in_production(make_app):
    app = make_app(ENV_NAME="production")
    result = app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code != 0
    assert "refused in production" in result.output


def test_create_staff_refuses_a_weak_password_and_unknown_roles(runner):
    weak = runner.invoke(args=["users", "create-staff", "--email", "sam@example.com", "--role", "support"],
                         input="sam-is-great-2025\nsam-is-great-2025\n")
    assert weak.exit_code != 0
    assert "must not contain your e-mail address" in weak.output
    unknown = runner.invoke(args=["users", "create-staff", "--email", "sam@example.com", "--role", "wizard"],
                            input="orange kettle under the stairs\norange kettle under the stairs\n")
    assert unknown.exit_code != 0
    assert "Refused: wizard" in unknown.output


def test_create_staff_adds_roles_to_an_existing_account_and_audits_it(app, runner, client, outbox):
    from app.audit.models import AuditEntry

    AuthActions(client, outbox).register("sam@example.com")
    result = runner.invoke(args=["users", "create-staff", "--email", "sam@example.com",
                                 "--role", "privacy", "--role", "billing"])
    assert result.exit_code == 0, result.output
    assert "Updated sam@example.com: roles billing, privacy" in result.output
    with app.app_context():
        actions = _db.session.scalars(select(AuditEntry.reason).where(AuditEntry.action == "staff:role:grant")).all()
        assert sorted(actions) == ["billing", "privacy"]


def test_crypto_generate_key_prints_a_usable_key(runner):
    from cryptography.fernet import Fernet

    key = runner.invoke(args=["crypto", "generate-key"]).output.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"ok")) == b"ok"
