"""The OpenAPI 3.1 document, built from the price list so it never drifts from the gateway."""

from __future__ import annotations

import re

from app.pricing import Pricing

PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/problem+json": {"schema": PROBLEM}}}


def document(pricing: Pricing, site_url: str, site_name: str) -> dict:
    paths: dict = {}
    for endpoint in pricing.endpoints:
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)\}", endpoint.path)
        ]
        if endpoint.path.endswith("/tweets/search"):
            params.append({"name": "q", "in": "query", "required": True,
                           "schema": {"type": "string", "maxLength": 512}})
        paths[endpoint.path] = {endpoint.method.lower(): {
            "summary": str(endpoint.description),
            "description": f"Costs {endpoint.credits} credit(s) per successful call.",
            "x-credits": endpoint.credits,
            "parameters": params,
            "responses": {
                "200": {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": _error("The input is malformed; nothing is charged."),
                "401": _error("Missing, unknown, revoked or expired key, or a key in the query string."),
                "402": _error("The balance is lower than the price; the body gives both."),
                "404": _error("No such endpoint."),
                "429": _error("The key's rate limit is reached; see Retry-After."),
                "502": _error("The data backend failed; nothing is charged."),
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
            "schemas": {"Problem": {"type": "object", "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "request_id": {"type": "string"}}}},
        },
    }
