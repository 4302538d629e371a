"""The OpenAPI 3.1 document, built from the price list so it never drifts from the gateway."""

from __future__ import annotations

import json
import re

from werkzeug.http import HTTP_STATUS_CODES

from app.api import demo
from app.api.services import MAX_QUERY, TWEET_ID, USERNAME
from app.pricing import Pricing

ACCOUNT = "/api/v1/account"
TIMESTAMP = {"type": "string", "format": "date-time"}
SCHEMAS = {
    "User": {"type": "object", "required": ["id", "username", "name", "created_at"], "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"}, "username": {"type": "string", "pattern": USERNAME.pattern},
        "name": {"type": "string"}, "description": {"type": "string"}, "created_at": TIMESTAMP,
        "followers_count": {"type": "integer", "minimum": 0}, "following_count": {"type": "integer", "minimum": 0},
        "tweet_count": {"type": "integer", "minimum": 0}, "verified": {"type": "boolean"}}},
    "Tweet": {"type": "object", "required": ["id", "text", "author_username", "created_at"], "properties": {
        "id": {"type": "string", "pattern": TWEET_ID.pattern}, "text": {"type": "string"},
        "author_username": {"type": "string"}, "lang": {"type": "string"}, "created_at": TIMESTAMP,
        "metrics": {"type": "object", "properties": {k: {"type": "integer", "minimum": 0}
                                                      for k in ("likes", "reposts", "replies")}}}},
    "Meta": {"type": "object", "properties": {
        "demo": {"type": "boolean", "description": "true: sample data from the demo backend, not Twitter/X data"},
        "notice": {"type": "string"}, "query": {"type": "string"},
        "result_count": {"type": "integer", "minimum": 0}}},
    "UserEnvelope": {"type": "object", "required": ["data"], "properties": {
        "data": {"$ref": "#/components/schemas/User"}, "meta": {"$ref": "#/components/schemas/Meta"}}},
    "TweetEnvelope": {"type": "object", "required": ["data"], "properties": {
        "data": {"$ref": "#/components/schemas/Tweet"}, "meta": {"$ref": "#/components/schemas/Meta"}}},
    "TweetList": {"type": "object", "required": ["data"], "properties": {
        "data": {"type": "array", "maxItems": 100, "items": {"$ref": "#/components/schemas/Tweet"}},
        "meta": {"$ref": "#/components/schemas/Meta"}}},
    "SpendLimit": {"type": "object", "required": ["monthly", "used_this_month", "resets_at"],
                   "description": "The organisation's monthly spend limit: what all its keys together may spend "
                                  "in a calendar month (UTC), whoever made them",
                   "properties": {"monthly": {"type": ["integer", "null"], "description": "null: no limit"},
                                  "used_this_month": {"type": "integer", "minimum": 0},
                                  "resets_at": TIMESTAMP}},
    "MonthUsage": {"type": "object", "required": ["calls", "credits"],
                   "description": "The calls of every key of the organisation this calendar month (UTC), before "
                                  "this one, and the credits they cost",
                   "properties": {"calls": {"type": "integer", "minimum": 0},
                                  "credits": {"type": "integer", "minimum": 0}}},
    "Organisation": {
        "type": "object", "required": ["id", "name", "personal", "balance", "spend_limit", "usage_this_month"],
        "description": "The organisation the key belongs to. Its balance, spend limit and month are shared by "
                       "every key of every member: a call made with any of them spends the same credits.",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": ["string", "null"], "description": "null for a personal organisation"},
            "personal": {"type": "boolean", "description": "true: one person's own organisation, not a team"},
            "balance": {"type": "integer", "description": "The organisation's credits after this call (which is "
                        "free); below zero only while credits of a disputed payment are held"},
            "spend_limit": {"$ref": "#/components/schemas/SpendLimit"},
            "usage_this_month": {"$ref": "#/components/schemas/MonthUsage"}}},
    "Account": {"type": "object", "required": ["data"], "properties": {"data": {
        "type": "object",
        "required": ["organisation", "balance", "key", "spend_limit", "usage_this_month", "limits", "prices"],
        "properties": {
            "organisation": {"$ref": "#/components/schemas/Organisation"},
            "balance": {"type": "integer", "description": "The same as organisation.balance: the organisation's, "
                                                          "not the key's nor its maker's"},
            "key": {"type": "object", "description": "The controls of the key making the call", "properties": {
                "scopes": {"type": ["array", "null"], "items": {"type": "string"}},
                "allowed_ips": {"type": ["array", "null"], "items": {"type": "string"}},
                "expires_at": {"type": ["string", "null"], "format": "date-time"},
                "caps": {"type": "object", "description": "The key's credit caps (null: none) and what it spent, "
                         "as logged, today (UTC) and this calendar month", "properties": {
                             "daily": {"type": ["integer", "null"]}, "monthly": {"type": ["integer", "null"]},
                             "used_today": {"type": "integer"}, "used_this_month": {"type": "integer"}}}}},
            "spend_limit": {"$ref": "#/components/schemas/SpendLimit",
                            "description": "The same as organisation.spend_limit"},
            "usage_this_month": {"$ref": "#/components/schemas/MonthUsage",
                                 "description": "The same as organisation.usage_this_month"},
            "limits": {"type": "object", "properties": {"calls_per_minute_per_key": {"type": "integer"},
                                                        "max_keys": {"type": "integer",
                                                                     "description": "per organisation"}}},
            "prices": {"type": "object", "additionalProperties": {"type": "integer"}}}}}},
}
RESPONSE_HEADERS = {
    "X-Request-Id": {"description": "This call's id: find it in your call log.", "schema": {"type": "string"}},
    "X-Credits-Remaining": {"description": "The organisation's balance after this call (shared by all its keys).",
                            "schema": {"type": "integer"}},
    "RateLimit-Policy": {"description": "The key's window (IETF draft).", "schema": {"type": "string"}},
    "RateLimit": {"description": "Calls left in the window and seconds to its reset.", "schema": {"type": "string"}},
}
EXAMPLE_PARAMS = {"username": "jack", "id": "1234567890"}


def example(path: str) -> dict:
    """A real answer of the demo backend for ``path`` (two items of a list), or the account's (of a
    key of a team organisation: the balance is the organisation's, shared by every member's keys)."""
    if path == ACCOUNT:
        spend_limit = {"monthly": 5000, "used_this_month": 60, "resets_at": "2027-01-01T00:00:00Z"}
        month = {"calls": 12, "credits": 60}
        return {"data": {"organisation": {"id": 100042, "name": "Example Analytics Ltd", "personal": False,
                                          "balance": 9940, "spend_limit": spend_limit, "usage_this_month": month},
                         "balance": 9940, "key": {"scopes": ["users:read"], "allowed_ips": ["203.0.113.0/24"],
                                                  "expires_at": "2027-06-30T00:00:00Z",
                                                  "caps": {"daily": 500, "monthly": None, "used_today": 60,
                                                           "used_this_month": 60}},
                         "spend_limit": spend_limit, "usage_this_month": month,
                         "limits": {"calls_per_minute_per_key": 60, "max_keys": 10},
                         "prices": {"/api/v1/users/{username}": 1}}}
    body = demo.respond(path, EXAMPLE_PARAMS, {"q": "python"})
    if isinstance(body["data"], list):
        body = {**body, "data": body["data"][:2], "meta": {**body["meta"], "result_count": 2}}
    return body


def operation_id(path: str, method: str = "get") -> str:
    """``/api/v1/users/{username}/tweets`` → ``getUsersUsernameTweets`` (``headUsers…`` for HEAD)."""
    words = re.findall(r"[a-z]+", path.removeprefix("/api/v1/"))
    return method + "".join(w.title() for w in words)


def schema_name(path: str) -> str:
    if path == ACCOUNT:
        return "Account"
    if path.endswith("/tweets") or path.endswith("/search"):
        return "TweetList"
    return "TweetEnvelope" if "/tweets/" in path else "UserEnvelope"

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
    return {"name": name, "in": "path", "required": True, "schema": schema, "example": EXAMPLE_PARAMS.get(name)}


def _with_examples(responses: dict) -> dict:
    """Every error response gets a problem document as its example."""
    for status, response in responses.items():
        content = response.get("content", {}).get("application/problem+json")
        if content is not None:
            content["example"] = {"type": "about:blank", "title": HTTP_STATUS_CODES[int(status)], "status": int(status),
                                  "detail": response["description"], "request_id": "4f1c2b9e0d7a4c3e8b6f5a1d2c3b4a5f"}
    return responses


HEAD_HEADERS = {**RESPONSE_HEADERS, "X-Credits-Remaining": {
    "description": "The balance as it stands (a HEAD is not charged).", "schema": {"type": "integer"}}}


def _head(path: str, params: list, credits: int) -> dict:
    """HEAD (RFC 9110 9.3.2): the status and headers a GET would get now, with no body, free."""
    def answer(description: str, headers: dict | None = None) -> dict:
        return {"description": description, **({"headers": headers} if headers else {})}

    return {
        "operationId": operation_id(path, "head"),
        "summary": "What a GET would get now, without the data; free",
        "description": f"The status and headers of a GET (which costs {credits} credit(s)), with no body. Nothing "
                       "is charged; it counts against the key's rate limit and is logged with 0 credits. The data "
                       "backend is not asked, so a GET may still get its 404 or 502.",
        "x-credits": 0,
        "parameters": params,
        "responses": {
            "200": answer("A GET would succeed and be charged its price.", HEAD_HEADERS),
            "400": answer("The input is malformed."),
            "401": answer("Missing, unknown, revoked or expired key.", {"WWW-Authenticate": {"schema": {
                "type": "string"}}}),
            "402": answer("The balance is lower than the price, or the key's own cap is reached."),
            "403": answer("The key's own controls refuse the call."),
            "404": answer("No such endpoint."),
            "429": answer("The key's rate limit or the organisation's spend limit is reached.", RETRY_AFTER),
            "503": answer("Calls cannot be metered right now.", RETRY_AFTER),
        },
    }


def document(pricing: Pricing, site_url: str, site_name: str) -> dict:
    paths: dict = {}
    for endpoint in pricing.endpoints:
        params = [_path_parameter(name) for name in re.findall(r"\{(\w+)\}", endpoint.path)]
        if endpoint.path.endswith("/tweets/search"):
            params.append({"name": "q", "in": "query", "required": True,
                           "description": "The search query: not empty nor only spaces.",
                           "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY, "pattern": "\\S"},
                           "example": "python"})
        scope = f" A restricted key needs the scope `{endpoint.scope}`." if endpoint.scope else ""
        paths[endpoint.path] = {endpoint.method.lower(): {
            "operationId": operation_id(endpoint.path),
            "summary": str(endpoint.description),
            "description": f"Costs {endpoint.credits} credit(s) per successful call.{scope}",
            "x-credits": endpoint.credits,
            **({"x-scope": endpoint.scope} if endpoint.scope else {}),
            "parameters": params,
            "responses": _with_examples({
                "200": {"description": "Success", "headers": RESPONSE_HEADERS, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{schema_name(endpoint.path)}"},
                    "example": example(endpoint.path)}}},
                "400": _error("The input is malformed; nothing is charged."),
                "401": _error("Missing, unknown or revoked key, or a key in the query string; `code: expired` for a "
                              "key past its expiry.", {"WWW-Authenticate": {"schema": {"type": "string"}}}),
                "403": _error("The key's own controls refuse the call, charged nothing: `code: missing_scope` (with "
                              "`scope`) or `code: ip_not_allowed` (with the caller's `ip`)."),
                "402": _error("The organisation's balance is lower than the price (the body gives both), or `code: "
                              "key_cap_reached`: the key's own daily or monthly credit cap is reached (`period`, "
                              "`limit`, `used`, `resets_at`); the organisation's other keys keep working."),
                "404": _error("No such endpoint."),
                "405": _error("Only GET, HEAD and OPTIONS work.", {"Allow": {"schema": {"type": "string"}}}),
                "413": _error("The request has a body over the size limit; API calls take none. Nothing is charged."),
                "429": _error("The key's rate limit is reached, or `code: spend_limit_reached`: the organisation's "
                              "monthly spend limit is (`limit`, `used`, `resets_at`); see Retry-After.", RETRY_AFTER),
                "502": _error("The data backend failed; nothing is charged."),
                "503": _error("Calls cannot be metered right now; none is served and nothing is charged.",
                              RETRY_AFTER),
            }),
        }, "head": _head(endpoint.path, params, endpoint.credits)}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{site_name} API", "version": "1.0.0",
                 "description": "Public Twitter/X data, metered in credits. A key belongs to an organisation "
                                "and spends its balance, which every key of every member shares; GET "
                                "/api/v1/account names the organisation. Every response carries X-Request-Id, "
                                "RateLimit-Policy, RateLimit and X-Credits-Remaining (the organisation's balance)."},
        "servers": [{"url": site_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "twt_… API key"}},
            "schemas": {**SCHEMAS, "Problem": {"type": "object", "required": ["type", "title", "status"],
                                               "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "request_id": {"type": "string"},
                "balance": {"type": "integer", "description": "402: the credits left"},
                "price": {"type": "integer", "description": "402: the credits the call costs"},
                "code": {"type": "string", "enum": ["expired", "missing_scope", "ip_not_allowed", "key_cap_reached",
                                                    "spend_limit_reached"],
                         "description": "401/402/403/429: which of the key's or the organisation's controls "
                                        "refused the call"},
                "period": {"type": "string", "enum": ["day", "month"],
                           "description": "402 key_cap_reached: the key's daily or monthly cap"},
                "limit": {"type": "integer", "description": "402 key_cap_reached, 429 spend_limit_reached: the cap"},
                "used": {"type": "integer", "description": "402 key_cap_reached, 429 spend_limit_reached: the "
                                                           "credits spent of it"},
                "resets_at": {"type": "string", "format": "date-time",
                              "description": "402 key_cap_reached, 429 spend_limit_reached: when it starts again"},
                "scope": {"type": "string", "description": "403 missing_scope: the scope the endpoint needs"},
                "ip": {"type": "string", "description": "403 ip_not_allowed: the caller's address as seen"}}}},
        },
    }


def operations(doc: dict) -> list[dict]:
    """The document's operations as the docs page shows them: one section each, with the URL of
    its example call and its example answer as indented JSON."""
    shown = []
    for path, methods in doc["paths"].items():
        operation = methods["get"]
        url = path
        query = {}
        for parameter in operation["parameters"]:
            if parameter["in"] == "path":
                url = url.replace("{" + parameter["name"] + "}", str(parameter["example"]))
            else:
                query[parameter["name"]] = parameter["example"]
        answer = operation["responses"]["200"]["content"]["application/json"]["example"]
        shown.append({"id": operation["operationId"], "path": path, "summary": operation["summary"],
                      "credits": operation["x-credits"], "scope": operation.get("x-scope", ""),
                      "parameters": operation["parameters"], "url": url, "query": query,
                      "errors": sorted(s for s in operation["responses"] if s != "200"),
                      "example": json.dumps(answer, indent=2, ensure_ascii=False)})
    return shown
