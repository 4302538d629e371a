"""The OpenAPI 3.1 document, built from the price list so it never drifts from the gateway."""

from __future__ import annotations

import re

from app.api.services import MAX_QUERY, TWEET_ID, USERNAME
from app.pricing import Pricing

PROBLEM = {"$ref": "#/components/schemas/Problem"}
PATTERNS = {"username": USERNAME.pattern, "id": TWEET_ID.pattern}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before the next try.",
                               "schema": {"type": "integer", "minimum": 1}}}


def _error(description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/problem+json": {"schema": PROBLEM}}}
    if headers:
        response["headers"] = headers
    return response


def _path_parameter(name: str) -> dict:
    schema = {"type": "string"}
    if name in PATTERNS:
        schema["pattern"] = PATTERNS[name]
    return {"name": name, "in": "path", "required": True, "schema": schema}


def document(pricing: Pricing, site_url: str, site_name: str) -> dict:
    paths: dict = {}
    for endpoint in pricing.endpoints:
        params = [_path_parameter(name) for name in re.findall(r"\{(\w+)\}", endpoint.path)]
        if endpoint.path.endswith("/tweets/search"):
            params.append({"name": "q", "in": "query", "required": True,
                           "description": "The search query: not empty nor only spaces.",
                           "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY, "pattern": "\\S"}})
        scope = f" A restricted key needs the scope `{endpoint.scope}`." if endpoint.scope else ""
        paths[endpoint.path] = {endpoint.method.lower(): {
            "summary": str(endpoint.description),
            "description": f"Costs {endpoint.credits} credit(s) per successful call.{scope}",
            "x-credits": endpoint.credits,
            **({"x-scope": endpoint.scope} if endpoint.scope else {}),
            "parameters": params,
            "responses": {
                "200": {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": _error("The input is malformed; nothing is charged."),
                "401": _error("Missing, unknown or revoked key, or a key in the query string; `code: expired` for a "
                              "key past its expiry.", {"WWW-Authenticate": {"schema": {"type": "string"}}}),
                "403": _error("The key's own controls refuse the call, charged nothing: `code: missing_scope` (with "
                              "`scope`) or `code: ip_not_allowed` (with the caller's `ip`)."),
                "402": _error("The balance is lower than the price; the body gives both."),
                "404": _error("No such endpoint."),
                "405": _error("Only GET (and OPTIONS) work; HEAD is refused, since it would be charged for no data.",
                              {"Allow": {"schema": {"type": "string"}}}),
                "413": _error("The request has a body over the size limit; API calls take none. Nothing is charged."),
                "429": _error("The key's rate limit is reached; see Retry-After.", RETRY_AFTER),
                "502": _error("The data backend failed; nothing is charged."),
                "503": _error("Calls cannot be metered right now; none is served and nothing is charged.",
                              RETRY_AFTER),
            },
        }}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{site_name} API", "version": "1.0.0",
                 "description": "Public Twitter/X data, metered in credits. Every response carries "
                                "X-Request-Id, RateLimit-Policy, RateLimit and X-Credits-Remaining."},
        "servers": [{"url": site_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "twt_… API key"}},
            "schemas": {"Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "request_id": {"type": "string"},
                "balance": {"type": "integer", "description": "402: the credits left"},
                "price": {"type": "integer", "description": "402: the credits the call costs"},
                "code": {"type": "string", "enum": ["expired", "missing_scope", "ip_not_allowed"],
                         "description": "401/403: which of the key's controls refused the call"},
                "scope": {"type": "string", "description": "403 missing_scope: the scope the endpoint needs"},
                "ip": {"type": "string", "description": "403 ip_not_allowed: the caller's address as seen"}}}},
        },
    }
