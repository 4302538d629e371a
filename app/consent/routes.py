"""Consent views and the request hooks that apply the visitor's decision."""

from __future__ import annotations

import json
import secrets

from flask import Blueprint, Flask, abort, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from app.consent import receipts, registry, services
from app.consent.forms import CookieSettingsForm
from app.consent.models import VISITOR_METHODS, ConsentMethod
from app.consent.registry import ConsentCategory
from app.extensions import db
from app.legal import services as legal
from app.security import csrf_exempt, public, request_is_same_origin, safe_next
from app.timeutil import utcnow

bp = Blueprint("consent", __name__)

NOT_COUNTED_PREFIXES = ("/api/", "/staff", "/static/", "/.well-known/", "/healthz")


def _secure_cookie_kwargs() -> dict:
    return {"httponly": True, "samesite": "Lax", "secure": request.is_secure}


# --- request hooks ------------------------------------------------------------------------------


def load_decision():
    """Read the consent cookie and the GPC signal once per request (API calls carry no cookies)."""
    if request.path.startswith("/api/"):
        g.consent_current = True  # no banner and no analytics on API responses
        return
    g.consent = services.decode_cookie(request.cookies.get(registry.CONSENT_COOKIE), current_app.config["SECRET_KEY"])
    g.gpc = request.headers.get("Sec-GPC", "").strip() == "1"
    now = utcnow()
    g.consent_current = services.is_current(g.consent, current_app.config, now)
    g.analytics_allowed = services.analytics_allowed(g.consent, g.gpc, current_app.config, now)


def banner_context():
    """What base.html needs to show (or not) the banner."""
    show = not g.get("consent_current", True) and not request.path.startswith("/api/")
    if show:
        g.banner_shown = True
    return {
        "consent_banner": show,
        "consent_texts": services.banner_texts() if show else None,
        "consent_reasked": show and services.needs_reconsent_notice(g.get("consent"), current_app.config, utcnow()),
        "consent_gpc": g.get("gpc", False),
    }


def apply_decision(response):
    """Banner pages are private; refused cookies are expired; analytics count a page view."""
    if g.get("banner_shown") and response.mimetype == "text/html":
        if "no-store" not in response.headers.get("Cache-Control", ""):
            response.headers["Cache-Control"] = "private"
        response.vary.add("Cookie")
    if g.get("consent_current") and not g.get("analytics_allowed") and registry.ANALYTICS_COOKIE in request.cookies:
        response.delete_cookie(registry.ANALYTICS_COOKIE, **_secure_cookie_kwargs())
    if g.get("analytics_allowed") and _countable(response):
        _count_view(response)
    return response


def _countable(response) -> bool:
    return (request.method == "GET" and response.status_code == 200 and response.mimetype == "text/html"
            and request.url_rule is not None and not request.path.startswith(NOT_COUNTED_PREFIXES))


def _count_view(response) -> None:
    visitor_id = request.cookies.get(registry.ANALYTICS_COOKIE)
    if not visitor_id or len(visitor_id) > 64:
        visitor_id = secrets.token_hex(16)
        response.set_cookie(registry.ANALYTICS_COOKIE, visitor_id,
                            max_age=registry.ANALYTICS_ID_MAX_AGE_DAYS * 86400, **_secure_cookie_kwargs())
    try:
        with db.session.begin_nested():  # a savepoint: a failed count undoes only itself
            services.count_page_view(request.url_rule.rule, visitor_id, utcnow().date())
    except Exception:  # noqa: BLE001 - counting must never break the page
        current_app.logger.exception("Counting a page view failed")


def init_app(app: Flask) -> None:
    """Every request reads the visitor's cookie decision; pages get the banner; responses apply it."""
    app.before_request(load_decision)
    app.context_processor(banner_context)
    app.after_request(apply_decision)


# --- views ----------------------------------------------------------------------------------------


@bp.post("/consent")
@public
@csrf_exempt
def save_consent():
    """Record a cookie decision (banner or settings page) and go back. Works without JavaScript.

    Checked by Origin / Sec-Fetch-Site instead of a CSRF token, so no cookie is needed before
    the choice.
    """
    if not request_is_same_origin():
        abort(403)
    action = request.form.get("action", "")
    if action not in VISITOR_METHODS:
        abort(400)
    previous = g.get("consent")
    decision, _record = services.decide(
        ConsentMethod(action), set(request.form.getlist("categories")), g.gpc, previous,
        current_user.id if current_user.is_authenticated else None, str(get_locale()), current_app.config, utcnow())
    response = redirect(safe_next(request.form.get("next"), "/"), code=303)
    response.set_cookie(registry.CONSENT_COOKIE, services.encode_cookie(decision, current_app.config["SECRET_KEY"]),
                        max_age=int(services.max_age(decision, current_app.config).total_seconds()),
                        **_secure_cookie_kwargs())
    for cookie in services.cookies_to_expire(decision):
        response.delete_cookie(cookie.name, **_secure_cookie_kwargs())
    return response


@bp.get("/cookies")
@public
def show_cookies():
    """The cookie policy, the registry as a table, the visitor's decision and the settings form."""
    decision = g.get("consent") if g.get("consent_current") else None
    form = CookieSettingsForm(data={
        "analytics": bool(decision and decision.allows(ConsentCategory.ANALYTICS)),
        "next": "/cookies",
    })
    records = services.history(decision.consent_id if decision else None, None)

    legal.ensure_published()  # a fresh database: the shipped documents are in force at once
    version = legal.current("cookies", str(get_locale()), utcnow().date())
    return render_template(
        "consent/cookies.html", form=form, decision=decision, latest=records[0] if records else None,
        categories=registry.CATEGORIES, cookies=registry.COOKIES, gpc=g.gpc,
        policy=legal.render(version, current_app.config) if version else None,
    )


@bp.get("/cookies/receipt.json")
@public
def download_receipt():
    """The visitor's current decision as a JSON receipt (no decision yet: back to the settings)."""
    decision = g.get("consent")
    records = services.history(decision.consent_id, None) if decision else []
    if not records:
        return redirect(url_for("consent.show_cookies") + "#settings")
    body = json.dumps(receipts.receipt(records[0], current_app.config), indent=2, ensure_ascii=False)
    return current_app.response_class(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="cookie-consent-{records[0].consent_id}.json"',
        "Cache-Control": "no-store",
    })


@bp.get("/.well-known/gpc.json")
@public
def show_gpc():
    """Global Privacy Control support statement."""
    return jsonify({"gpc": True, "lastUpdate": current_app.config["COOKIE_POLICY_VERSION"]})
