"""``flask`` commands. Thin: parse arguments, call services, print results."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.engine import make_url

from app.extensions import db
from app.timeutil import utcnow


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


@click.command("demo-data")
@with_appcontext
def demo_data_command():
    """Create the demo customer (idempotent; refused in production)."""
    from app.auth import services as auth_services

    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException("demo-data is refused in production.")
    user, created = auth_services.ensure_demo_customer(current_app.config, utcnow())
    db.session.commit()
    click.echo(("Created" if created else "Already present:") + " demo customer")
    click.echo(f"  e-mail:   {user.email}")
    click.echo(f"  password: {auth_services.DEMO_PASSWORD}")


privacy_cli = AppGroup("privacy", help="Retention and privacy jobs.")


@privacy_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what each rule would touch; change nothing.")
@click.option("--batch-size", default=500, show_default=True, help="Rows per transaction.")
def purge_command(dry_run: bool, batch_size: int):
    """Apply every retention rule (app/retention.py) and print counts per rule."""
    from app import retention

    counts = retention.purge(current_app.config, utcnow(), dry_run=dry_run, batch_size=batch_size)
    verb = "would touch" if dry_run else "touched"
    for name, count in counts.items():
        click.echo(f"{name}: {verb} {count}")


mail_cli = AppGroup("mail", help="The e-mail outbox.")


@mail_cli.command("send-queued")
def send_queued_command():
    """Send queued e-mail that is due; failures wait with back-off for the next run."""
    from app.email import deliver_due

    counts = deliver_due(current_app.config)
    click.echo(f"sent {counts['sent']}, failed {counts['failed']}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(show_config_command)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(mail_cli)
