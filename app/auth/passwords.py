"""Password hashing (argon2id) and the password rules of registration and reset."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt"


def hasher(config=None) -> PasswordHasher:
    cfg = config or current_app.config
    return _hasher(cfg["PASSWORD_HASH_TIME_COST"], cfg["PASSWORD_HASH_MEMORY_KIB"])


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID)


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> tuple[bool, bool]:
    """(matches, needs_rehash). With no hash, still spends the time of one verification."""
    ph = hasher()
    if not password_hash:
        password_hash = _dummy_hash(ph.time_cost, ph.memory_cost)
        try:
            ph.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            pass
        return False, False
    try:
        ph.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, ph.check_needs_rehash(password_hash)


@lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _hasher(time_cost, memory_kib).hash("not a real password, only spends time")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def _is_common(password: str) -> bool:
    lowered = password.lower()
    common = common_passwords()
    if lowered in common:
        return True
    # "password2024!", "qwerty123456": a common word with digits or symbols around it.
    core = re.sub(r"^[\d\W_]+|[\d\W_]+$", "", lowered)
    if len(core) >= 4 and core in common:
        return True
    # "abcabcabcabc", "passwordpassword": one short unit repeated.
    return bool(re.fullmatch(r"(.{1,8}?)\1+", lowered))


def password_problems(password: str, email: str | None = None) -> list[str]:
    """Why ``password`` is refused (empty when it is acceptable). No composition rules."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_l("Use at least %(count)s characters.", count=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_l("Use at most %(count)s characters.", count=MAX_LENGTH))
    if len(password) >= MIN_LENGTH and _is_common(password):
        problems.append(_l("This password is too common. Choose one that is harder to guess."))
    local = (email or "").split("@", 1)[0].lower()
    if len(local) >= 3 and local in password.lower():
        problems.append(_l("Your password must not contain your e-mail address."))
    if any(word in _letters(password) for word in context_words()):
        problems.append(_l("Your password must not contain the name of this service."))
    return problems


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def context_words() -> set[str]:
    """Words an attacker tries first against this service (ASVS 5.0 6.2.11): its name and the
    site's configured name, compared without spaces or punctuation."""
    words = {"twtapi"}
    if has_app_context():
        site = _letters(current_app.config.get("SITE_NAME") or "")
        if len(site) >= 4:
            words.add(site)
    return words
