"""The gateway view and the API's public documents."""

from __future__ import annotations

import time
import uuid

from flask import current_app, g, jsonify, render_template, request

from app.api import bp, openapi, services
from app.auth.models import User
from app.billing import services as billing
from app.errors.routes import problem_response
from app.extensions import db
from app.keys import services as keys
from app.pricing import get_pricing
from app.security import api_key, csrf_exempt, public
from app.timeutil import utcnow
from app.usage import services as usage

KEY_PARAMS = ("api_key", "apikey", "key", "access_token", "token")
ACCOUNT_ENDPOINT = "/api/v1/account"


def _problem(status: int, detail: str, headers: dict | None = None, **extra):
    return problem_response(status, detail, {**(headers or {}), "X-Request-Id": g.request_id},
                            request_id=g.request_id, **extra)


@bp.route("/api/v1/<path:path>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
@api_key
@csrf_exempt
def gateway(path: str):
    """Authenticate the key, rate-limit, price, fetch, charge once and log the call."""
    g.request_id = uuid.uuid4().hex
    started = time.perf_counter()
    if any(name in request.args for name in KEY_PARAMS):
        return _problem(401, "API keys are accepted only in the Authorization header (Bearer); a key in the URL "
                             "leaks into logs and browser history. Revoke this key and make a new one.")
    pricing = get_pricing()
    try:
        matched = services.match(pricing, "/api/v1/" + path, request.method)
    except services.MethodNotAllowed as exc:
        return _problem(405, "This endpoint accepts GET only.", {"Allow": ", ".join(exc.valid_methods or ["GET"])})
    except services.NotFound:
        return _problem(404, "There is no such endpoint. See /api/v1/openapi.json.")
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return _problem(401, "Send your key as: Authorization: Bearer twt_…", {"WWW-Authenticate": "Bearer"})
    now = utcnow()
    key = keys.find_usable_key(secret.strip(), now)
    if key is None:
        return _problem(401, "The key is not valid: it is unknown, revoked or expired.", {"WWW-Authenticate": "Bearer"})

    state = services.rate_limit(key.id, key.rate_limit_per_minute or pricing.rate_limit_per_minute)
    headers = {**services.rate_headers(state), "X-Request-Id": g.request_id}
    endpoint, price = matched.price.path, matched.price.credits

    def finish(status: int, body: dict, credits: int = 0, balance: int | None = None, extra_headers=None):
        usage.record_call(request_id=g.request_id, user_id=key.user_id, key_id=key.id, method=request.method,
                          endpoint=endpoint, status=status, credits=credits, ip=request.remote_addr, now=now,
                          latency_ms=int((time.perf_counter() - started) * 1000))
        keys.mark_used(key, now)
        balance = billing.current_balance(key.user_id) if balance is None else balance
        db.session.commit()
        all_headers = {**headers, "X-Credits-Remaining": str(balance), **(extra_headers or {})}
        if status >= 400:
            return _problem(status, body["detail"], all_headers, **{k: v for k, v in body.items() if k != "detail"})
        response = jsonify(body)
        response.headers.update(all_headers)
        return response

    if not state.allowed:
        return finish(429, {"detail": f"Rate limit of {state.limit} calls a minute reached for this key."},
                      extra_headers={"Retry-After": str(max(1, state.reset))})
    try:
        services.validate(matched, request.args)
    except services.BadInput as exc:
        return finish(400, {"detail": str(exc)})
    if endpoint == ACCOUNT_ENDPOINT:
        return finish(200, _account_body(key.user_id, pricing, now))

    upstream = current_app.config["UPSTREAM_API_URL"]
    if upstream:  # check before spending the backend's time; the charge below re-checks atomically
        balance = billing.current_balance(key.user_id)
        if balance < price:
            return finish(402, {"detail": f"This call costs {price} credits and your balance is {balance}.",
                                "balance": balance, "price": price}, balance=balance)
    try:
        status, data = services.fetch(matched, request.args, upstream, current_app.config["UPSTREAM_TIMEOUT_SECONDS"])
    except services.UpstreamError:
        return finish(502, {"detail": "The data backend did not answer; nothing was charged. Try again later."})
    if status >= 400:
        detail = data.get("detail") if isinstance(data, dict) else None
        return finish(status, {"detail": detail or "The data backend refused the request; nothing was charged."})
    try:
        balance = billing.charge_call(key.user_id, price, g.request_id, now)
    except billing.InsufficientCredits as exc:  # another call spent the credits meanwhile
        return finish(402, {"detail": f"This call costs {price} credits and your balance is {exc.balance}.",
                            "balance": exc.balance, "price": price}, balance=exc.balance)
    billing.check_low_credit(key.user_id, balance, current_app.config)
    return finish(200, data, credits=price, balance=balance)


def _account_body(user_id: int, pricing, now) -> dict:
    user = db.session.get(User, user_id)
    month = usage.month_totals(user_id, now.date())
    return {"data": {
        "balance": user.credit_balance,
        "usage_this_month": {"calls": month["calls"], "credits": month["credits"]},
        "limits": {"calls_per_minute_per_key": pricing.rate_limit_per_minute, "max_keys": pricing.max_keys},
        "prices": {e.path: e.credits for e in pricing.endpoints},
    }}


@bp.get("/api/v1/openapi.json")
@public
def show_openapi():
    """The OpenAPI 3.1 description of the API (no key needed)."""
    cfg = current_app.config
    return jsonify(openapi.document(get_pricing(), cfg["SITE_URL"], cfg["SITE_NAME"]))


@bp.get("/docs/api")
@public
def show_docs():
    """How to use the API: authentication, prices, limits, errors and curl examples."""
    return render_template("api/docs.html", pricing=get_pricing())
