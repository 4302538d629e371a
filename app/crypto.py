"""Field encryption for sensitive columns, with key rotation.

Keys come from ``DATA_ENCRYPTION_KEYS``: comma-separated Fernet keys (AES-128-CBC with
HMAC-SHA256), newest first. Values are encrypted with the newest key and decrypted with any of
them, so a new key can be put in front at any time; ``flask crypto rotate`` then re-encrypts
every stored value with it, after which the old key can be removed.

Declare a column ``mapped_column(EncryptedText)``: the ORM encrypts on write and decrypts on
read. Generate a key with ``flask crypto generate-key``.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Text, select, type_coerce
from sqlalchemy.types import TypeDecorator

from app.extensions import db
from app.uow import commit_now


class EncryptionKeyError(ValueError):
    """A configured key is not a valid Fernet key."""


def development_key(secret_key: str) -> str:
    """A key derived from SECRET_KEY, for development and tests only (production requires keys)."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"field-encryption:" + secret_key.encode()).digest()).decode()


def new_key() -> str:
    return Fernet.generate_key().decode()


@lru_cache(maxsize=8)
def _keyring(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    try:
        fernets = [Fernet(k.encode()) for k in keys]
    except (ValueError, TypeError) as exc:
        raise EncryptionKeyError(
            "DATA_ENCRYPTION_KEYS must hold Fernet keys (generate one with: flask crypto generate-key)"
        ) from exc
    return MultiFernet(fernets), fernets[0]


def validate_keys(keys: list[str]) -> None:
    """Raise EncryptionKeyError unless every key is usable."""
    if keys:
        _keyring(tuple(keys))


def _current_keyring() -> tuple[MultiFernet, Fernet]:
    keys = current_app.config.get("DATA_ENCRYPTION_KEYS") or [development_key(current_app.config["SECRET_KEY"])]
    return _keyring(tuple(keys))


def encrypt(value: str) -> str:
    multi, _ = _current_keyring()
    return multi.encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    multi, _ = _current_keyring()
    try:
        return multi.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise EncryptionKeyError("A stored value cannot be decrypted with any configured key") from exc


class EncryptedText(TypeDecorator):
    """Text stored encrypted; the application sees plain text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)


def encrypted_columns() -> list:
    """Every (table, column) declared EncryptedText."""
    return [
        (table, column)
        for table in db.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText)
    ]


def rotate(batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt, with the newest key, every value that an older key encrypted.

    Works in batches by primary key, each committed on its own; safe to run again (values
    already under the newest key are skipped). Returns the count per ``table.column``.
    """
    multi, newest = _current_keyring()
    counts: dict[str, int] = {}
    for table, column in encrypted_columns():
        raw = type_coerce(column, Text)
        key = table.primary_key.columns.values()[0]
        last, done = None, 0
        while True:
            query = select(key, raw).where(column.isnot(None)).order_by(key).limit(batch_size)
            if last is not None:
                query = query.where(key > last)
            rows = db.session.execute(query).all()
            if not rows:
                break
            for row_id, token in rows:
                try:
                    newest.decrypt(token.encode())
                    continue
                except InvalidToken:
                    pass
                rotated = multi.rotate(token.encode()).decode()
                stored = type_coerce(rotated, Text)  # bypasses EncryptedText: already encrypted
                db.session.execute(table.update().where(key == row_id).values({column.name: stored}))
                done += 1
            commit_now("key rotation: one batch of re-encrypted rows a transaction")
            last = rows[-1][0]
        counts[f"{table.name}.{column.name}"] = done
    return counts
