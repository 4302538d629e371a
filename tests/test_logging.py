"""No password, token or session id appears in any log line."""

import logging
import re

import pytest

from app.security import RedactSecretsFilter
from tests.fixtures.visitor import AuthActions, link_in, submit


def test_account_journey_logs_no_secret(app, client, outbox, caplog):
    caplog.set_level(logging.DEBUG)
    auth = AuthActions(client, outbox)
    auth.register(verify=False)
    verify_link = link_in(outbox[-1], "/verify-email/")
    client.get(verify_link)
    auth.login()
    session_cookie = client.get_cookie("session").value
    submit(client, "/reset-password", {"email": "alice@example.com"})
    reset_link = link_in(outbox[-1], "/reset-password/")
    submit(client, reset_link, {"password": "a brand new passphrase"})
    auth.login(password="wrong password here")

    secrets = [AuthActions.PASSWORD, "a brand new passphrase", "wrong password here", session_cookie,
               verify_link.rsplit("/", 1)[1], reset_link.rsplit("/", 1)[1]]
    # "mail.log" is the test SMTP server standing in for the outside mail relay, not our code.
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    logged = "\n".join(record.getMessage() for record in ours)
    assert ours, "the journey should have logged something (mail delivery at least)"
    for secret in secrets:
        assert secret not in logged


def test_web_server_access_lines_have_tokens_redacted():
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1,
                               '127.0.0.1 - - "GET /reset-password/%s HTTP/1.1" 200 -', ("s3cr3t-T0ken",), None)
    assert RedactSecretsFilter().filter(record)
    assert "s3cr3t-T0ken" not in record.getMessage()
    assert re.search(r"/reset-password/\[redacted\]", record.getMessage())


def test_two_factor_secrets_and_codes_are_not_logged(app, client, outbox, caplog):
    from tests.fixtures.visitor import totp_now, turn_on_2fa

    caplog.set_level(logging.DEBUG)
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    secret, codes = turn_on_2fa(client)
    auth.logout()
    auth.login()
    code = totp_now(secret, 1)
    submit(client, "/login/2fa", {"code": code})
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    logged = "\n".join(record.getMessage() for record in ours)
    for value in [secret, code, *codes]:
        assert value not in logged


def test_api_keys_in_query_strings_are_redacted_from_access_lines():
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1,
                               '"GET /api/v1/users/jack?api_key=twt_AbCdEfGh12345678 HTTP/1.1" 401', (), None)
    RedactSecretsFilter().filter(record)
    assert "twt_AbCdEfGh12345678" not in record.getMessage()


@pytest.mark.parametrize("path", ["/contact/thread/", "/privacy/request/status/"])
def test_capability_links_are_redacted_from_access_lines(path):
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1,
                               f'127.0.0.1 - - "GET {path}%s HTTP/1.1" 200 -', ("Zm9vYmFy.capability-T0ken",), None)
    assert RedactSecretsFilter().filter(record)
    assert "capability-T0ken" not in record.getMessage()
    assert f"{path}[redacted]" in record.getMessage()
