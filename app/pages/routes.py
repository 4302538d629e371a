"""Views of the public pages."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import services as auth_services
from app.email import external_url
from app.i18n import LANG_COOKIE, LANG_COOKIE_MAX_AGE, html_lang, normalise_locale
from app.pages import releases, services
from app.pricing import get_pricing
from app.security import public, safe_next
from app.timeutil import utcnow

bp = Blueprint("pages", __name__)


@bp.get("/")
@public
def show_home():
    """The home page: what the API offers, how credits work, and where to start."""
    return render_template("pages/home.html", pricing=get_pricing())


@bp.get("/pricing")
@public
def show_pricing():
    """Credit packs and the credit cost of every endpoint, from the one price list."""
    return render_template("pages/pricing.html", pricing=get_pricing())


@bp.get("/changelog")
@public
def show_changelog():
    """What changed in the API, newest first (Markdown files in app/pages/changelog/)."""
    return render_template("pages/changelog.html", entries=releases.entries(str(get_locale())))


@bp.get("/changelog.atom")
@public
def changelog_feed():
    """The changelog as an Atom feed, in the visitor's language."""
    locale, site = str(get_locale()), current_app.config["SITE_NAME"]
    body = releases.atom(releases.entries(locale), title=_("%(site)s API changelog", site=site), author=site,
                         page_url=external_url("pages.show_changelog"),
                         feed_url=external_url("pages.changelog_feed"), language=html_lang(locale))
    return Response(body, mimetype="application/atom+xml", headers={"Cache-Control": "public, max-age=3600"})


@bp.get("/language/<code>")
@public
def set_language(code: str):
    """Remember the language the visitor picked and go back.

    Signed-in users have it saved in their profile; other visitors get the ``lang`` cookie.
    A GET on purpose: the footer switch is a plain link that works without a form or session.
    """
    locale = normalise_locale(code)
    response = redirect(safe_next(request.args.get("next")), code=303)
    if locale and current_user.is_authenticated:
        # A signed-in user's saved language decides, so the choice is saved there.
        auth_services.save_locale(current_user, locale)
    elif locale:
        response.set_cookie(
            LANG_COOKIE,
            locale,
            max_age=LANG_COOKIE_MAX_AGE,
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
    return response


@bp.get("/healthz")
@public
def show_health():
    """Readiness for load balancers and monitors: each dependency, 503 when one the app needs is down."""
    ready, report = services.health(current_app.config, current_app.extensions.get("twtapi_redis"), utcnow(),
                                    current_app.extensions.get("twtapi_meter"))
    response = jsonify({"status": "ok" if ready else "error", **report})
    response.status_code = 200 if ready else 503
    if not ready:
        response.headers["Retry-After"] = "5"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/.well-known/security.txt")
@public
def show_security_txt():
    """How to report a vulnerability (RFC 9116)."""
    cfg = current_app.config
    body = services.security_txt(cfg["SITE_URL"], cfg["SECURITY_EMAIL"])
    return body, 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/robots.txt")
@public
def show_robots_txt():
    """What crawlers may index: the public pages, not the account, console or API."""
    body = services.robots_txt(current_app.config["SITE_URL"])
    return body, 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "public, max-age=86400"}


@bp.get("/favicon.ico")
@public
def show_favicon():
    """Browsers ask for /favicon.ico whatever the page links: send them to the SVG icon."""
    return redirect(url_for("static", filename="favicon.svg"), 301)
