"""Text leaves compressed: the proxy of docs/deployment.md gzips every text type the app serves
(the app does not compress itself), and the stylesheet stays small enough not to need a minifier."""

import gzip
import re
from pathlib import Path

from tests.fixtures.visitor import bearer

DEPLOYMENT = Path(__file__).resolve().parents[1] / "docs" / "deployment.md"
TEXT = re.compile(r"^(text/|application/(json|problem\+json|javascript|atom\+xml|xml)|image/svg\+xml)")


def documented_gzip_types() -> set[str]:
    config = DEPLOYMENT.read_text(encoding="utf-8")
    assert "gzip on;" in config
    block = re.search(r"gzip_types([^;]+);", config).group(1)
    return set(block.split()) | {"text/html"}  # nginx always compresses text/html once gzip is on


def test_every_text_type_the_app_serves_is_in_the_proxys_gzip_types(client, app):
    from tests.fixtures.factories import make_customer
    from tests.fixtures.visitor import AuthActions

    _user, secret = make_customer(app)
    AuthActions(client, []).login()
    responses = [client.get(path) for path in (
        "/", "/static/css/site.css", "/static/js/copy.js", "/static/favicon.svg", "/robots.txt", "/changelog.atom",
        "/api/v1/openapi.json", "/account/usage.csv", "/.well-known/security.txt")]
    responses.append(client.get("/api/v1/users/jack", headers=bearer(secret)))
    responses.append(client.get("/api/v1/nothing-here", headers=bearer(secret)))  # problem+json
    served = {r.mimetype for r in responses if TEXT.match(r.mimetype)}
    assert {"text/html", "text/css", "application/json", "application/problem+json", "text/csv",
            "application/atom+xml", "image/svg+xml", "text/plain"} <= served
    assert served - documented_gzip_types() == set()
    assert all("Content-Encoding" not in r.headers for r in responses)  # the proxy's job, not the app's
    for response in responses:
        response.close()


def test_the_stylesheet_is_small_once_compressed(client):
    with client.get("/static/css/site.css") as response:
        assert len(gzip.compress(response.data)) < 10_000
