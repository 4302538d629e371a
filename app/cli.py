"""``flask`` commands. Thin: parse arguments, call services, print results."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url


def _redacted_database_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@click.command("show-config")
@with_appcontext
def show_config_command():
    """Print the settings in force, with secrets redacted."""
    cfg = current_app.config
    rows = [
        ("environment", cfg.get("ENV_NAME")),
        ("database", _redacted_database_url(cfg["SQLALCHEMY_DATABASE_URI"])),
        ("rate-limit storage", "redis" if cfg.get("REDIS_URL") else "memory (one process)"),
        ("mail", "smtp" if cfg.get("MAIL_URL") else f"files in {cfg.get('MAIL_DIR')}"),
        ("stripe", "configured" if cfg.get("STRIPE_SECRET_KEY") else "demo checkout"),
        ("encryption keys", str(len(cfg.get("DATA_ENCRYPTION_KEYS") or []))),
        ("trusted proxy hops", str(cfg.get("PROXY_HOPS"))),
        ("site", cfg.get("SITE_URL")),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name.ljust(width)}  {value}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(show_config_command)
