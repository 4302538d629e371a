"""Password rules and hashing."""

import pytest
from argon2 import PasswordHasher

from app.auth.passwords import hash_password, password_problems, verify_password
from app.config import load_config


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "x7!Lq2#vP9@m", "长城 is a long wall 2025", "a" * 11 + "b"],
)
def test_good_passwords_pass(password):
    assert password_problems(password, "alice@example.com") == []


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-pass1", "at least 12"),
        ("x" * 129, "at most 128"),
        ("qazwsxedcrfv", "too common"),
        ("1qaz2wsx3edc", "too common"),
        ("password2024!!", "too common"),
        ("Sunshine123456", "too common"),
        ("abcabcabcabcabc", "too common"),
        ("my-alice.rocks-hard", "e-mail address"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password, problem):
    problems = " ".join(str(p) for p in password_problems(password, "alice@example.com"))
    assert problem in problems


def test_no_composition_rules():
    assert password_problems("all lowercase letters and spaces", "bob@example.com") == []


def test_hashes_are_argon2id_with_at_least_19_mib_and_2_iterations(make_app):
    # The settings' own defaults: the rest of the suite hashes at the lowest cost (tests/fixtures/settings.py).
    defaults = load_config("testing", {})
    app = make_app(PASSWORD_HASH_TIME_COST=defaults.PASSWORD_HASH_TIME_COST,
                   PASSWORD_HASH_MEMORY_KIB=defaults.PASSWORD_HASH_MEMORY_KIB)
    with app.app_context():
        stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    params = dict(p.split("=") for p in stored.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024
    assert int(params["t"]) >= 2


def test_verify_and_rehash_when_parameters_change(app):
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash("correct horse battery staple")
    with app.app_context():
        assert verify_password(old, "correct horse battery staple") == (True, True)
        assert verify_password(old, "wrong password here") == (False, False)
        assert verify_password(None, "anything at all") == (False, False)
        assert verify_password("not-a-hash", "anything at all") == (False, False)
