"""The cookie registry: every cookie the site can set, in one place.

The cookie page renders from it, the consent logic expires cookies of refused categories from
it, and a browser test fails on any cookie that is not here. A category other than
``necessary`` and ``analytics`` (a ``ConsentCategory``) is added only when a cookie needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask_babel import lazy_gettext as _l


class ConsentCategory(StrEnum):
    """A category of cookies a visitor allows or refuses (kept here, in the foundation, beside the
    registry that names them, not in the consent models)."""

    NECESSARY = "necessary"
    ANALYTICS = "analytics"


SESSION_COOKIE = "session"
CONSENT_COOKIE = "consent"
LANG_COOKIE = "lang"
ANALYTICS_COOKIE = "twa_id"

ANALYTICS_ID_MAX_AGE_DAYS = 395  # 13 months at most


@dataclass(frozen=True)
class Category:
    name: ConsentCategory
    label: str
    description: str
    optional: bool


@dataclass(frozen=True)
class Cookie:
    name: str
    category: ConsentCategory
    purpose: str
    lifetime: str
    http_only: bool = True

    def shown_name(self, config) -> str:
        """The name the browser sees: the session cookie's is configured (``__Host-session`` in
        production, ASVS 5.0 3.3.1)."""
        return config.get("SESSION_COOKIE_NAME") or self.name if self.name == SESSION_COOKIE else self.name

    def lifetime_text(self, config) -> str:
        """The lifetime with the configured periods filled in."""
        return str(self.lifetime) % {
            "remember_days": config["REMEMBER_DAYS"],
            "consent_days": config["CONSENT_MAX_AGE_DAYS"],
        }


CATEGORIES = (
    Category(ConsentCategory.NECESSARY, _l("Necessary"), _l(
        "Keep you signed in, protect forms against forgery, remember your cookie choice and the language you "
        "picked. They are always on; if you block them in your browser, signing in stops working."), False),
    Category(ConsentCategory.ANALYTICS, _l("Analytics"), _l(
        "Count page views and unique visitors per day so we can improve the site and its documentation. "
        "First party only: nothing is sent to another company."), True),
)

COOKIES = (
    Cookie(SESSION_COOKIE, ConsentCategory.NECESSARY, _l(
        "Your sign-in session (a random id; the session itself is kept on our server), the form-forgery "
        "protection token and one-time messages such as \"You are signed out\"."),
        _l("Until you close the browser; %(remember_days)s days if you choose \"Keep me signed in\".")),
    Cookie(CONSENT_COOKIE, ConsentCategory.NECESSARY, _l(
        "Your cookie choice: its id, the categories you allowed, the cookie-policy version and the time."),
        _l("%(consent_days)s days, then we ask again.")),
    Cookie(LANG_COOKIE, ConsentCategory.NECESSARY, _l(
        "The language you picked with the language switch at the top of each page. Set only when you pick one."),
           _l("1 year.")),
    Cookie(ANALYTICS_COOKIE, ConsentCategory.ANALYTICS, _l(
        "A random visitor id used only to count unique visitors per day on this site."),
        _l("13 months at most; removed at once if you withdraw consent.")),
)


def category(name: str) -> Category | None:
    return next((c for c in CATEGORIES if c.name == name), None)


def optional_categories() -> tuple[Category, ...]:
    return tuple(c for c in CATEGORIES if c.optional)


def cookies_in(categories: set[str]) -> tuple[Cookie, ...]:
    return tuple(c for c in COOKIES if c.category in categories)


def registered_names(config=None) -> set[str]:
    return {c.shown_name(config) if config is not None else c.name for c in COOKIES}
