"""The gateway view and the API's public documents."""

from __future__ import annotations

import random
import time

from flask import Blueprint, current_app, g, jsonify, render_template, request
from flask_login import current_user

from app.api import openapi, services
from app.api.forms import TryItForm
from app.errors.problems import problem_response, report_outage
from app.extensions import db, limiter
from app.metering.caps import next_month, resets_at
from app.metering.lookups import spent
from app.metering.services import get_meter
from app.metering.types import KeyChanged, MeteredCall, MeteringUnavailable, Outcome
from app.organisations.models import Organisation
from app.pricing import get_pricing
from app.security import api_key, csrf_exempt, customer, public
from app.timeutil import utcnow
from app.uow import keep_on_error
from app.usage import services as usage

bp = Blueprint("api", __name__)

KEY_PARAMS = ("api_key", "apikey", "key", "access_token", "token")
ACCOUNT_ENDPOINT = "/api/v1/account"
INVALID_KEY = "The key is not valid: it is unknown, revoked or expired."


def docs_url(code: str) -> str:
    """The problem type of one of the API's own refusals: its entry in the API docs."""
    return f"{current_app.config['SITE_URL']}/docs/api#error-{code}"


def _problem(status: int, detail: str, headers: dict | None = None, **extra):
    return problem_response(status, detail, {**(headers or {}), "X-Request-Id": g.request_id},
                            request_id=g.request_id, **extra)


ALLOWED = "GET, HEAD, OPTIONS"


@bp.route("/api/v1/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
          provide_automatic_options=False)
@api_key
@csrf_exempt
@limiter.exempt  # the meter keeps the per-key window; the app-wide limiter hook has nothing to do here
def gateway(path: str):
    """Authenticate the key, rate-limit, price, fetch, charge once and log the call."""
    g.request_id = f"{random.getrandbits(128):032x}"  # unique, not secret: it grants nothing
    started = time.perf_counter()
    if request.method == "OPTIONS":  # what works here
        return "", 204, {"Allow": ALLOWED}
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if limit and (request.content_length or 0) > limit:  # never read: refused before anything else
        return _problem(413, f"The request body is over {limit} bytes. API calls take no body: send the "
                             "parameters in the path and the query string.")
    if request.method not in ("GET", "HEAD"):
        return _problem(405, "This endpoint accepts GET, and HEAD to learn what a GET would get without making "
                             "it.", {"Allow": ALLOWED})
    if request.query_string and any(name in request.args for name in KEY_PARAMS):
        return _problem(401, "API keys are accepted only in the Authorization header (Bearer); a key in the URL "
                             "leaks into logs and browser history. Revoke this key and make a new one.")
    pricing = get_pricing()
    try:
        matched = services.match(pricing, "/api/v1/" + path, request.method)
    except services.MethodNotAllowed:
        return _problem(405, "This endpoint accepts GET and HEAD only.", {"Allow": ALLOWED})
    except services.NotFound:
        return _problem(404, "There is no such endpoint. See /api/v1/openapi.json.")
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return _problem(401, "Send your key as: Authorization: Bearer twt_…", {"WWW-Authenticate": "Bearer"})
    meter = get_meter()
    try:
        try:
            return _metered_call(meter, secret.strip(), matched, pricing, started)
        except KeyChanged:  # changed since this process cached it: once more, with the key as it is now
            return _metered_call(meter, secret.strip(), matched, pricing, started)
    except KeyChanged:
        return _problem(401, INVALID_KEY, {"WWW-Authenticate": "Bearer"})
    except MeteringUnavailable as exc:
        report_outage("redis", exc)  # the first with its traceback, then counts
        return _problem(503, "Calls cannot be metered right now, so none is served; nothing was charged. "
                             "Try again in a moment.", {"Retry-After": "5"})


def _metered_call(meter, secret: str, matched: services.Match, pricing, started: float):
    now = utcnow()
    key = meter.find_key(secret, now)
    if key is None:
        return _problem(401, INVALID_KEY, {"WWW-Authenticate": "Bearer"})
    refused = services.refusal(key, matched.price.scope, request.remote_addr, now)
    if refused is not None:  # a cached key may have changed since: refuse only on the key as it is now
        key = meter.current_key(key, now)
        if key is None:
            return _problem(401, INVALID_KEY, {"WWW-Authenticate": "Bearer"})
        refused = services.refusal(key, matched.price.scope, request.remote_addr, now)
    if refused is not None:  # the key's own controls: nothing is counted or charged
        return _problem(refused.status, refused.detail, refused.headers, type=docs_url(refused.code),
                        code=refused.code, **refused.extra)
    limit = key.rate_limit or pricing.rate_limit_per_minute
    call = MeteredCall(meter, key, limit, matched.price.credits, g.request_id, request.method, matched.price.path,
                       request.remote_addr, now, started, time.perf_counter)
    try:
        services.validate(matched, request.args)
    except services.BadInput as exc:
        return _respond(call, call.settle(400), detail=str(exc))
    if request.method == "HEAD":  # RFC 9110: what a GET would get, without its data; nothing is charged
        return _respond(call, call.quote())
    if matched.price.path == ACCOUNT_ENDPOINT:
        organisation = db.session.get(Organisation, key.organisation_id)
        month = usage.month_totals(key.organisation_id, now.date())  # the calls before this one
        used = spent(db.session, key.organisation_id, key.id, now.date())
        outcome = call.settle(200)
        return _respond(call, outcome, _account_body(organisation, month, used, outcome.balance, pricing, key, now))
    upstream = current_app.config["UPSTREAM_API_URL"]
    if not upstream:  # the demo backend cannot fail: fetch, then rate-limit, charge and log in one step
        _status, data = services.fetch(matched, request.args, None, 0)
        return _respond(call, call.settle(200), data)
    refused = call.check()  # before spending the backend's time; the charge re-checks
    if refused is not None:
        return _respond(call, refused)
    try:
        status, data = services.fetch(matched, request.args, upstream, current_app.config["UPSTREAM_TIMEOUT_SECONDS"])
    except services.UpstreamError:
        return _respond(call, call.settle(502),
                        detail="The data backend did not answer; nothing was charged. Try again later.")
    if status >= 400:
        detail = data.get("detail") if isinstance(data, dict) else None
        return _respond(call, call.settle(status),
                        detail=detail or "The data backend refused the request; nothing was charged.")
    return _respond(call, call.settle(200), data)


def _respond(call: MeteredCall, outcome: Outcome, body: dict | None = None, detail: str | None = None):
    """The response for a metered call: its data, or a problem, with the rate-limit and balance headers."""
    keep_on_error()  # the call's log row (and its charge) stay, whatever the answer: a 402/429 is logged
    headers = {**outcome.headers(), "X-Request-Id": g.request_id}
    call.meter.after_call()
    if outcome.capped_by:
        return _capped(call, outcome, headers)
    if outcome.status == 429:
        return _problem(429, f"Rate limit of {call.limit} calls a minute reached for this key.", headers)
    if outcome.status == 402:
        return _problem(402, f"This call costs {call.price} credits and the organisation's balance is "
                             f"{outcome.balance}.", headers, balance=outcome.balance, price=call.price)
    if outcome.status >= 400:
        return _problem(outcome.status, detail, headers)
    if request.method == "HEAD":  # no data was fetched, so no length to announce (RFC 9110 9.3.2)
        response = current_app.response_class(status=200, mimetype="application/json")
        response.automatically_set_content_length = False
        response.headers.update(headers)
        return response
    response = jsonify(body)
    response.headers.update(headers)
    return response


def _capped(call: MeteredCall, outcome: Outcome, headers: dict):
    """A call past the key's own cap (402: the balance is not the reason) or the organisation's
    monthly spend limit (429, with Retry-After until the month starts again); nothing was charged."""
    reset = resets_at(outcome.capped_by, call.now).isoformat() + "Z"
    extra = {"limit": outcome.cap, "used": outcome.used, "price": call.price, "resets_at": reset}
    if outcome.capped_by == "spend":
        return _problem(429, f"The organisation's monthly spend limit of {outcome.cap} credits is reached "
                             f"({outcome.used} spent this month); calls are refused until {reset}. Raise the limit on "
                             "the alerts page.", {**headers, "Retry-After": str(outcome.retry_after)},
                        type=docs_url("spend_limit_reached"), code="spend_limit_reached", **extra)
    period = "today" if outcome.capped_by == "day" else "this month"
    return _problem(402, f"This key's {'daily' if outcome.capped_by == 'day' else 'monthly'} cap of {outcome.cap} "
                         f"credits is reached ({outcome.used} spent {period}; this call costs {call.price}). It is the "
                         f"key's own cap, not the organisation's balance ({outcome.balance} credits): its other keys "
                         f"keep working. It resets at {reset}.", headers, type=docs_url("key_cap_reached"),
                    code="key_cap_reached", period=outcome.capped_by, balance=outcome.balance, **extra)


def _account_body(organisation: Organisation, month: dict, used: tuple[int, int, int], balance: int, pricing, key,
                  now) -> dict:
    """What ``/api/v1/account`` answers: the key's organisation (whose balance, spend limit and
    month every member's keys share) and the calling key's own controls and caps. The top-level
    ``balance``, ``spend_limit`` and ``usage_this_month`` repeat the organisation's, for clients
    written before keys belonged to organisations."""
    day_used, month_used, organisation_used = used
    spend_limit = {"monthly": key.spend_limit, "used_this_month": organisation_used,
                   "resets_at": next_month(now).isoformat() + "Z"}
    this_month = {"calls": month["calls"], "credits": month["credits"]}
    return {"data": {
        "organisation": {"id": organisation.id, "name": None if organisation.personal else organisation.name,
                         "personal": organisation.personal, "balance": balance, "spend_limit": spend_limit,
                         "usage_this_month": this_month},
        "balance": balance,
        "key": {"scopes": sorted(key.scopes) if key.scopes is not None else None,
                "allowed_ips": [str(n) for n in key.networks] or None,
                "expires_at": key.expires_at.isoformat() + "Z" if key.expires_at else None,
                "caps": {"daily": key.daily_cap, "monthly": key.monthly_cap, "used_today": day_used,
                         "used_this_month": month_used}},
        "spend_limit": spend_limit,
        "usage_this_month": this_month,
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
    """How to use the API: authentication, prices, a section per endpoint (from the OpenAPI
    document) with curl, Python and JavaScript examples, limits and errors."""
    return _render_docs(TryItForm(formdata=None) if current_user.is_authenticated else None)


@bp.post("/docs/api/try")
@customer
def try_it():
    """One real call with the customer's own key, made through the gateway and shown with its
    status and headers (a plain form: no JavaScript needed). It is charged like any call."""
    form = TryItForm()
    if not form.validate_on_submit():
        return _render_docs(form, status=400)
    tried = services.try_call(current_app._get_current_object(), form.path.data, form.key.data, request.remote_addr)
    return _render_docs(form, tried)


def _render_docs(form, tried=None, status=200):
    cfg = current_app.config
    doc = openapi.document(get_pricing(), cfg["SITE_URL"], cfg["SITE_NAME"])
    return render_template("api/docs.html", pricing=get_pricing(), operations=openapi.operations(doc),
                           try_form=form, tried=tried), status
