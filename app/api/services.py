"""The gateway's steps: match the endpoint, validate input, fetch the data (metering: metering.py).

No request access here: the view passes what it read from the request.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app.api import demo
from app.metering.types import KeyInfo
from app.pricing import EndpointPrice, Pricing

USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")
TWEET_ID = re.compile(r"^[0-9]{1,19}$")
MAX_QUERY = 512


class BadInput(ValueError):
    """The client sent something the endpoint cannot use; the message says what."""


class UpstreamError(Exception):
    """The data backend failed or timed out."""


@dataclass(frozen=True)
class Refusal:
    """A call the key's own controls refuse: nothing is counted or charged."""

    status: int
    code: str
    detail: str
    headers: dict
    extra: dict


def refusal(key: KeyInfo, scope: str, remote_addr: str | None, now: datetime) -> Refusal | None:
    """The first of the key's controls the call fails: its expiry, its IP allowlist, its scopes."""
    if not key.usable(now):
        return Refusal(401, "expired", f"This key expired on {key.expires_at:%Y-%m-%d %H:%M} UTC. Make a new key "
                       "on the API keys page.", {"WWW-Authenticate": 'Bearer error="invalid_token"'}, {})
    if key.networks:
        try:
            address = ipaddress.ip_address(remote_addr or "")
        except ValueError:
            address = None
        if not key.allows_address(address):
            return Refusal(403, "ip_not_allowed", f"This key may not be used from {remote_addr or 'an unknown address'}"
                           ": add the address to the key's allowlist on the API keys page.", {},
                           {"ip": remote_addr})
    if not key.allows_scope(scope):
        return Refusal(403, "missing_scope", f"This key may not call this endpoint: it needs the scope {scope!r}, "
                       f"and the key holds {', '.join(sorted(key.scopes)) or 'none'}.", {}, {"scope": scope})
    return None


@dataclass(frozen=True)
class Tried:
    """What one call made from the docs page answered."""

    status: int
    headers: list[tuple[str, str]]
    body: str


SHOWN_HEADERS = ("Content-Type", "X-Request-Id", "X-Credits-Remaining", "RateLimit-Policy", "RateLimit",
                 "Retry-After", "WWW-Authenticate")


def try_call(app, path: str, secret: str, remote_addr: str | None) -> Tried:
    """Make one call through the gateway itself, inside this process (the WSGI application is
    called directly: no network), exactly as a client would: metered and charged like any call."""
    environ = EnvironBuilder(path=path, method="GET", headers={"Authorization": f"Bearer {secret}"},
                             environ_base={"REMOTE_ADDR": remote_addr or ""}).get_environ()
    body, status, headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    raw = b"".join(body)
    try:
        text = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except ValueError:
        text = raw.decode("utf-8", "replace")
    return Tried(int(status.split()[0]), [(name, headers[name]) for name in SHOWN_HEADERS if name in headers],
                 text[:20_000])


@dataclass(frozen=True)
class Match:
    price: EndpointPrice
    params: dict


def match(pricing: Pricing, path: str, method: str) -> Match:
    """The priced endpoint for ``path`` (one trailing slash allowed). Raises NotFound or
    MethodNotAllowed (with the methods that would work)."""
    if path.endswith("/") and len(path) > 1:
        path = path[:-1]
    index, params = pricing.routes.match(path, "GET" if method == "HEAD" else method)
    return Match(pricing.endpoints[index], params)


def validate(m: Match, args) -> None:
    """Raise BadInput when parameters are malformed (nothing is charged then)."""
    if "username" in m.params and not USERNAME.match(m.params["username"]):
        raise BadInput("A username has 1 to 15 letters, digits or underscores.")
    if "id" in m.params and not TWEET_ID.match(m.params["id"]):
        raise BadInput("A post id is a number of up to 19 digits.")
    if m.price.path == "/api/v1/tweets/search":
        query = args.get("q", "").strip()
        if not query:
            raise BadInput("Give a search query in the q parameter, e.g. ?q=python.")
        if len(query) > MAX_QUERY:
            raise BadInput(f"The search query is longer than {MAX_QUERY} characters.")


def fetch(m: Match, args, upstream_url: str | None, timeout: float) -> tuple[int, dict]:
    """The data for a matched call: from the upstream backend, or the built-in demo one."""
    if not upstream_url:
        return 200, demo.respond(m.price.path, m.params, {"q": args.get("q", "").strip()})
    path = m.price.path.format(**m.params)
    query = urlencode([(k, v) for k, v in args.items(multi=True)])
    url = upstream_url.rstrip("/") + path[len("/api/v1"):] + (f"?{query}" if query else "")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - configured URL
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read(2_000_000) or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise UpstreamError(f"upstream answered {exc.code}") from exc
        try:
            body = json.loads(exc.read(100_000) or b"{}")
        except ValueError:
            body = {}
        return exc.code, body
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise UpstreamError(type(exc).__name__) from exc


__all__ = ["BadInput", "Match", "MethodNotAllowed", "NotFound", "UpstreamError", "fetch", "match", "validate"]
