"""Random tokens and what we store instead of them."""

from __future__ import annotations

import hashlib
import secrets


def hash_token(token: str) -> str:
    """SHA-256 of a random token: what we store instead of session ids and e-mailed tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
