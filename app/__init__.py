"""The TwtAPI portal: ``create_app`` builds and wires the Flask application."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, url_for
from flask.logging import default_handler
from flask_babel import format_date, format_decimal, get_locale
from werkzeug.middleware.proxy_fix import ProxyFix

from app import database, redis_store
from app.account import routes as account_routes
from app.api import routes as api_routes
from app.audit import services as _audit_guard  # noqa: F401 - importing it installs the append-only guard
from app.auth import routes as auth_routes
from app.billing import routes as billing_routes
from app.billing import services as billing_services
from app.billing.gateway import DemoGateway, StripeGateway, choose_gateway
from app.billing.routes import checkout as checkout_routes
from app.cli import register_cli
from app.config import BASE_DIR, Config, load_config
from app.consent import routes as consent_routes
from app.contact import routes as contact_routes
from app.database import IdConverter
from app.drp import routes as drp_routes
from app.email import register_mail
from app.errors import routes as errors_routes
from app.extensions import babel, db, limiter, login_manager, migrate
from app.i18n import format_day, format_moment, format_money, html_lang, install_template_gettext, select_locale
from app.keys import routes as keys_routes
from app.labels import TEMPLATE_STATES, label, label_list
from app.legal import routes as legal_routes
from app.metering.services import register_metering, shown_balance
from app.organisations import routes as organisations_routes
from app.pages import routes as pages_routes
from app.rights import routes as rights_routes
from app.security import register_security
from app.staff import routes as staff_routes
from app.tables import stacked
from app.team import routes as team_routes
from app.uow import register_unit_of_work
from app.usage import routes as usage_routes


def create_app(config: str | Config | None = None, overrides: Mapping | None = None) -> Flask:
    """Build the application.

    ``config`` is a configuration name (``development``, ``testing``, ``production``), a
    ``Config`` instance, or None for ``APP_ENV``. ``overrides`` replaces single settings
    (tests use it). Raises ``ConfigError`` when the configuration is unusable.
    """
    app = Flask(__name__, instance_relative_config=True)
    cfg = config if isinstance(config, Config) else load_config(config)
    app.config.from_object(cfg)
    if overrides:
        app.config.update(overrides)

    register_logging(app)
    register_proxy(app)
    app.url_map.converters["int"] = IdConverter
    register_extensions(app)
    register_unit_of_work(app)  # first: its commit is the last step after every view
    register_metering(app)
    register_domains(app)
    payments = register_payments(app)
    register_templating(app)
    register_security(app, form_action_origins=payments.checkout_origins)
    errors_routes.init_app(app)
    register_mail(app)
    register_cli(app)
    return app


def register_logging(app: Flask) -> None:
    """One handler, the root's: the ``app.*`` loggers (mail, metering) propagate to it, so Flask's
    own handler on ``app`` would print each of their lines twice."""
    level = getattr(logging, app.config.get("LOG_LEVEL", "INFO"), logging.INFO)
    root = logging.getLogger()
    if not root.handlers and not app.testing:
        logging.basicConfig(
            level=level, format="%(asctime)s %(levelname)s [%(name)s] %(message)s"
        )
    app.logger.setLevel(level)
    if root.handlers:
        app.logger.removeHandler(default_handler)


def register_proxy(app: Flask) -> None:
    """Trust ``X-Forwarded-*`` from exactly PROXY_HOPS proxies, so https URLs stay https."""
    hops = app.config.get("PROXY_HOPS", 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    database.configure_engine(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    login_manager.init_app(app)
    login_manager.session_protection = None  # our session rows do this job (app/auth/services.py)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    if app.config.get("REDIS_URL"):  # for /healthz: short timeouts, a check must not hang
        app.extensions["twtapi_redis"] = redis_store.connect(
            app.config["REDIS_URL"], socket_timeout=1, socket_connect_timeout=1)


# The domain packages' routes modules: each exposes its blueprint (``bp``) and, when it has
# application-wide hooks, an ``init_app(app)``.
DOMAINS = (pages_routes, auth_routes, account_routes, staff_routes, consent_routes, keys_routes, usage_routes,
           api_routes, billing_routes, contact_routes, rights_routes, legal_routes, drp_routes, organisations_routes,
           team_routes)


def register_domains(app: Flask) -> None:
    for routes in DOMAINS:
        app.register_blueprint(routes.bp)
        if hasattr(routes, "init_app"):
            routes.init_app(app)


def register_payments(app: Flask) -> StripeGateway | DemoGateway:
    """Choose the payment backend once and keep it as ``app.extensions["payment_gateway"]``
    (``billing.gateway.current_gateway()`` reads it): the demo checkout's route exists only with
    the demo backend. The low-credit e-mail follows charges."""
    chosen = choose_gateway(
        app.config, lambda session_id: url_for("billing.show_demo_checkout", session_id=session_id))
    app.extensions["payment_gateway"] = chosen
    if chosen.name == "demo":
        app.add_url_rule("/billing/demo/<session_id>", "billing.show_demo_checkout",
                         checkout_routes.show_demo_checkout, methods=["GET", "POST"])
    billing_services.register_low_credit_mail(app)
    return chosen


def register_templating(app: Flask) -> None:
    install_template_gettext(app)
    app.jinja_env.globals.update(
        label=label,
        label_list=label_list,
        get_locale=get_locale,
        html_lang=html_lang,
        format_currency=format_money,
        format_decimal=format_decimal,
        format_date=format_date,
        format_datetime=format_moment,
        shown_balance=shown_balance,
        **TEMPLATE_STATES,
    )
    app.jinja_env.filters["stacked"] = stacked
    app.jinja_env.filters["day"] = format_day
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
