"""Field encryption: stored encrypted, read in clear, and key rotation keeps everything readable."""

from cryptography.fernet import Fernet
from sqlalchemy import select, text

from app import crypto
from app.auth.models import User
from app.extensions import db as _db
from tests.fixtures.factories import UserFactory

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _add_users(count: int) -> None:
    for i in range(count):
        UserFactory(email=f"u{i}@example.com", totp_secret=f"SECRET{i:04d}")
    _db.session.commit()


def _raw_secrets() -> list[str]:
    return _db.session.execute(text("SELECT totp_secret FROM users ORDER BY id")).scalars().all()


def test_encrypted_columns_are_stored_encrypted_and_read_in_clear(make_app):
    app = make_app(DATA_ENCRYPTION_KEYS=[OLD])
    with app.app_context():
        _add_users(1)
        assert "SECRET0000" not in _raw_secrets()[0]
        _db.session.expunge_all()
        assert _db.session.scalar(select(User.totp_secret)) == "SECRET0000"


def test_rotation_leaves_every_value_readable_and_retires_the_old_key(make_app):
    with make_app(DATA_ENCRYPTION_KEYS=[OLD]).app_context():
        _add_users(7)
        before = _raw_secrets()

    both = make_app(DATA_ENCRYPTION_KEYS=[NEW, OLD])  # new key first: writes use it, reads use either
    result = both.test_cli_runner().invoke(args=["crypto", "rotate", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "users.totp_secret: re-encrypted 7" in result.output
    again = both.test_cli_runner().invoke(args=["crypto", "rotate"])
    assert "users.totp_secret: re-encrypted 0" in again.output

    with make_app(DATA_ENCRYPTION_KEYS=[NEW]).app_context():  # the old key is gone now
        after = _raw_secrets()
        assert all(a != b for a, b in zip(after, before, strict=True))
        secrets = _db.session.scalars(select(User.totp_secret).order_by(User.id)).all()
        assert secrets == [f"SECRET{i:04d}" for i in range(7)]


def test_every_encrypted_column_is_known_to_rotation(app):
    with app.app_context():
        columns = {f"{t.name}.{c.name}" for t, c in crypto.encrypted_columns()}
    assert {"users.totp_secret", "contact_messages.body"} <= columns


def test_a_value_under_an_unknown_key_is_a_clear_error(make_app):
    import pytest

    with make_app(DATA_ENCRYPTION_KEYS=[OLD]).app_context():
        _add_users(1)
    with make_app(DATA_ENCRYPTION_KEYS=[NEW]).app_context():
        with pytest.raises(crypto.EncryptionKeyError):
            _db.session.scalar(select(User.totp_secret))
