"""Capability links never reach the access log (issue 32, item 12). The real server (gunicorn)
writes its access log while a client requests every route of ``app.url_map`` whose URL carries a
token-like argument, with a recognisable secret in it (and the same secret in a query string);
no line of the log may contain a secret, and each request's line is there, redacted."""

import re
import urllib.error
import urllib.request
import uuid

from app.crypto import development_key
from tests.server import gunicorn

# Argument names that say "this part of the URL opens something by itself".
TOKEN_LIKE = re.compile(r"token|secret|signature|nonce|request_id|session_id|(^|_)key$")
NUMBER_CONVERTERS = ("IdConverter", "IntegerConverter", "NumberConverter", "FloatConverter")


def capability_routes(app):
    """(rule, the names of its token-like arguments) for every such route."""
    found = []
    for rule in app.url_map.iter_rules():
        names = [name for name in rule.arguments if TOKEN_LIKE.search(name)
                 and type(rule._converters[name]).__name__ not in NUMBER_CONVERTERS]
        if names:
            found.append((rule, names))
    return found


def request(url: str, method: str) -> None:
    try:
        urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10).read()  # noqa: S310
    except urllib.error.HTTPError:
        pass  # a refusal is logged all the same


def test_no_capability_reaches_the_access_log(app, database_url, smtp_server, tmp_path):
    routes = capability_routes(app)
    endpoints = {rule.endpoint for rule, _ in routes}
    assert {"billing.confirm_alert_recipient", "drp.verify_identity", "auth.reset_password",
            "auth.verify_email"} <= endpoints
    env = {
        "APP_ENV": "development", "DATABASE_URL": database_url, "SECRET_KEY": "served-tests-only-" + "x" * 24,
        "DATA_ENCRYPTION_KEYS": development_key("testing-only-not-secret"),
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_server[0].port}", "LOG_LEVEL": "WARNING",
        "RATELIMIT_KEY_PREFIX": f"twtapi-served-{uuid.uuid4().hex[:8]}",
    }
    log = tmp_path / "gunicorn.log"
    secrets, requested = [], []
    with gunicorn(env, log, workers=1, threads=2, extra_args=("--access-logfile", "-")) as base:
        for n, (rule, names) in enumerate(routes):
            secret = f"Cap4bility{n}S3cret{uuid.uuid4().hex[:12]}"
            values = {name: (secret if name in names else "x") for name in rule.arguments}
            path = rule.build(values)[1]
            method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
            request(f"{base}{path}?token={secret}q", method)
            secrets += [secret]
            requested.append(path.split(secret)[0])
    logged = log.read_text()
    for secret in secrets:
        assert secret not in logged, [line for line in logged.splitlines() if secret in line]
    for prefix in requested:  # every request was logged, its capability redacted
        assert f"{prefix}[redacted]?token=[redacted]" in logged, prefix
