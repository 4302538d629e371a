"""``flask`` commands. Thin: parse arguments, call services, print results."""

from __future__ import annotations

import signal
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.engine import make_url

from app import email as mail
from app import processing, retention
from app.audit import chain as audit_chain
from app.auth import demo, provisioning
from app.auth import services as auth_services
from app.auth.passwords import password_problems
from app.billing import alerts
from app.billing import services as billing_services
from app.billing.services import verify_balances, verify_orders
from app.config.model import shown_settings
from app.crypto import new_key, rotate
from app.drp import services as drp
from app.email import deliver_due
from app.extensions import db
from app.keys import services as key_services
from app.legal import services as legal
from app.metering.flush import flush_metered_calls, run_flusher
from app.metering.services import get_meter
from app.organisations import services as organisations
from app.rights import organisations as rights_organisations
from app.rights import services as rights_services
from app.rights.workflow import send_digest
from app.timeutil import utcnow
from app.uow import atomic
from app.usage import partitions


def _redacted_database_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@click.command("show-config")
@with_appcontext
def show_config_command():
    """Print what the settings in force amount to, then every setting of the model with its value
    (docs/configuration.md says what each means): secrets only as set or unset, URLs without passwords."""
    cfg = current_app.config
    rows = [
        ("environment", cfg.get("ENV_NAME")),
        ("database", _redacted_database_url(cfg["SQLALCHEMY_DATABASE_URI"])),
        ("rate-limit storage", "redis (shared by every worker)" if cfg.get("REDIS_URL")
         else "memory: every limit counts per worker process (N workers allow N times the limit)"),
        ("API metering", current_app.extensions["twtapi_meter"].name),
        ("mail", "smtp" if cfg.get("MAIL_URL") else f"files in {cfg.get('MAIL_DIR')}"),
        ("payments", "stripe" if current_app.extensions["payment_gateway"].name == "stripe" else "demo checkout"),
        ("data backend", "upstream" if cfg.get("UPSTREAM_API_URL") else "built-in sample data"),
        ("demo mode", "on (every page says so)" if cfg.get("DEMO_MODE") else "off"),
        ("encryption keys", str(len(cfg.get("DATA_ENCRYPTION_KEYS") or []))),
        ("trusted proxy hops", str(cfg.get("PROXY_HOPS"))),
        ("site", cfg.get("SITE_URL")),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name.ljust(width)}  {value}")
    settings = shown_settings(cfg)
    width = max(len(name) for name, _ in settings)
    click.echo("\nsettings (docs/configuration.md):")
    for name, value in settings:
        click.echo(f"  {name.ljust(width)}  {value}")


@click.command("demo-data")
@with_appcontext
def demo_data_command():
    """Create the demo customer (idempotent; refused in production)."""
    try:
        with atomic():
            user, created = demo.ensure_demo_customer(current_app.config, utcnow())
            admin, admin_created = demo.ensure_demo_admin(current_app.config, utcnow())
    except demo.DemoRefused as exc:
        raise click.ClickException(str(exc)) from exc
    secret = None
    if created:
        with atomic():
            _key, secret = key_services.create_key(organisations.personal_organisation(user.id), user, "Demo key", None,
                                                   10, current_app.config, utcnow())
    if current_app.config.get("MAIL_DELIVERY") != "queue":  # development: its mail is written now too
        deliver_due(current_app.config)
    click.echo(("Created" if created else "Already present:") + " demo customer")
    click.echo(f"  e-mail:   {user.email}")
    click.echo(f"  password: {demo.DEMO_PASSWORD}")
    click.echo(f"  credits:  {organisations.personal_organisation(user.id).credit_balance}")
    if secret:
        click.echo(f"  API key:  {secret}  (shown once)")
        site = current_app.config["SITE_URL"]
        click.echo(f"  try:      curl -H 'Authorization: Bearer {secret}' {site}/api/v1/users/jack")
    click.echo(("Created" if admin_created else "Already present:") + " demo staff member (all roles)")
    click.echo(f"  e-mail:   {admin.email}")
    click.echo(f"  password: {demo.DEMO_ADMIN_PASSWORD}")
    if admin.has_2fa:
        click.echo("  Two-factor authentication is on: sign in with a code from its authenticator app.")
    else:
        click.echo("  The staff console (/staff/) asks it to turn on two-factor authentication first.")


privacy_cli = AppGroup("privacy", help="Retention and privacy jobs.")


@privacy_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what each rule would touch; change nothing.")
@click.option("--batch-size", default=1000, show_default=True, help="Rows per transaction.")
def purge_command(dry_run: bool, batch_size: int):
    """Apply every retention rule (app/retention.py) and print counts per rule. On PostgreSQL it
    first creates the call log's partitions for this month and the next three."""
    now = utcnow()
    verb = "would touch" if dry_run else "touched"
    if not dry_run and (created := partitions.ensure(db.engine, now)):
        click.echo(f"call log partitions created: {', '.join(created)}")
    due = rights_services.accounts_due_for_erasure(current_app.config, now)
    erased = len(due) if dry_run else rights_services.purge_closed_accounts(current_app.config, now)
    click.echo(f"closed accounts erased: {'would erase' if dry_run else 'erased'} {erased}")
    teams = (len(rights_organisations.due_for_erasure(current_app.config, now)) if dry_run
             else rights_organisations.purge_closed_organisations(current_app.config, now))
    click.echo(f"closed organisations erased: {'would erase' if dry_run else 'erased'} {teams}")
    rules = [r for r in retention.RULES if r.action != "keep"]
    counts = {}
    with click.progressbar(rules, label="retention rules", file=sys.stderr,
                           item_show_func=lambda r: r.name if r else "") as bar:
        for rule in bar:
            counts.update(retention.purge(current_app.config, now, dry_run=dry_run, batch_size=batch_size,
                                          only=rule.name))
    for name, count in counts.items():
        click.echo(f"{name}: {verb} {count}")


@privacy_cli.command("retention-doc")
@click.option("--write", "path", type=click.Path(dir_okay=False), help="Write to this file instead of printing.")
def retention_doc_command(path: str | None):
    """The retention rules as Markdown (docs/retention.md is generated with this)."""
    text = retention.markdown(current_app.config)
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        click.echo(text, nl=False)


@privacy_cli.command("ropa")
@click.option("--format", "form", type=click.Choice(["md", "csv"]), default="md", show_default=True)
@click.option("--write", "path", type=click.Path(dir_okay=False), help="Write to this file instead of printing.")
def ropa_command(form: str, path: str | None):
    """The record of processing activities (GDPR Art. 30), from the code, as Markdown or CSV.
    Exits 1, naming them, when a table holding personal data belongs to no activity."""
    missing = processing.uncovered_tables(db.metadata)
    if missing:
        raise click.ClickException("tables with personal data in no processing activity: " + ", ".join(missing))
    text = processing.markdown(current_app.config) if form == "md" else processing.csv_text(current_app.config)
    if path:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        click.echo(text, nl=False)


mail_cli = AppGroup("mail", help="The e-mail outbox.")


@mail_cli.command("send-queued")
@click.option("--follow", is_flag=True, help="Keep running: deliver due mail every --interval seconds (a service).")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between rounds with --follow.")
def send_queued_command(follow: bool, interval: float):
    """Send queued e-mail that is due; failures wait with back-off for the next run. Runs may
    overlap: each claims the messages it sends."""
    if follow:
        mail.follow(current_app._get_current_object(), interval)
        return
    counts = mail.deliver_due(current_app.config)
    click.echo(f"sent {counts['sent']}, failed {counts['failed']}")


users_cli = AppGroup("users", help="Accounts and staff.")


@users_cli.command("create-staff")
@click.option("--email", required=True, help="The staff member's e-mail address.")
@click.option("--role", "roles", multiple=True, required=True,
              help="support, privacy, billing or admin; repeat for several.")
def create_staff_command(email: str, roles: tuple[str, ...]):
    """Create a staff account (asking for its password), or add roles to an existing account."""
    existing = auth_services.find_user_by_email(email)
    password = None
    if existing is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        problems = password_problems(password, email)
        if problems:
            raise click.ClickException(" ".join(str(p) for p in problems))
    try:
        with atomic():
            user, created = provisioning.create_staff(email, password, list(roles), current_app.config, utcnow())
    except (provisioning.UnknownRole, auth_services.InvalidEmail) as exc:
        raise click.ClickException(f"Refused: {exc}") from None
    click.echo(f"{'Created' if created else 'Updated'} {user.email}: roles {', '.join(sorted(user.role_names))}")
    click.echo("Two-factor authentication must be turned on before the staff console opens.")


credits_cli = AppGroup("credits", help="The credit ledger.")


@credits_cli.command("verify")
def verify_credits_command():
    """Check that every balance equals the sum of its ledger and that every paid order was
    credited exactly once; exit 1 on any mismatch."""
    mismatches = verify_balances()
    for organisation_id, name, balance, total in mismatches:
        click.echo(f"MISMATCH organisation {organisation_id} {name}: balance {balance}, ledger {total}")
    orders = verify_orders()
    for reference, credits, given in orders:
        click.echo(f"MISMATCH order {reference}: {credits} credits bought, {given} credited")
    click.echo(f"{len(mismatches) + len(orders)} mismatches")
    if mismatches or orders:
        raise SystemExit(1)


@credits_cli.command("refresh-alerts")
def refresh_alerts_command():
    """Compute every account's low-balance alert levels again from its last 30 days' use (run daily)."""
    changed = alerts.refresh_all(current_app.config, utcnow().date())
    click.echo(f"alert levels changed: {changed}")


orders_cli = AppGroup("orders", help="Credit-pack orders.")


@orders_cli.command("expire")
def expire_orders_command():
    """Mark expired the pending orders whose checkout session has ended (run every few minutes)."""
    with atomic():
        count = billing_services.expire_orders(utcnow())
    click.echo(f"orders expired: {count}")


usage_cli = AppGroup("usage", help="API call records.")


@usage_cli.command("flush")
@click.option("--follow", is_flag=True, help="Keep running and write records as they arrive (a service).")
@click.option("--claim-idle", default=30, show_default=True,
              help="Also write records another process has held for this many seconds (it may have died).")
def flush_usage_command(follow: bool, claim_idle: int):
    """Write the API call records waiting in Redis to the call log, ledger and roll-ups."""
    meter = get_meter()
    if meter.name != "redis":
        click.echo("Calls are metered in the database (API_METERING=database): nothing waits to be written.")
        return
    if follow:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # exit through the final flush
        run_flusher(current_app._get_current_object(), meter)
        return
    written = flush_metered_calls(meter, claim_idle * 1000)
    click.echo(f"{written} call records written; {meter.pending_count()} still waiting")


policies_cli = AppGroup("policies", help="Versioned legal documents.")


@policies_cli.command("publish")
def publish_policies_command():
    """Load new document versions from app/legal/documents, then notify users of significant ones."""
    with atomic():
        added = legal.publish()
    for version in added:
        click.echo(f"published {version.document} {version.version} ({version.locale})"
                   + (" - significant" if version.significant else ""))
    click.echo(f"{len(added)} new versions")
    sent = legal.notify_significant(current_app.config, utcnow())
    click.echo(f"{sent} users notified of significant changes")


@policies_cli.command("notify")
def notify_policies_command():
    """E-mail users about the newest significant versions they have not been told about (batched)."""
    sent = legal.notify_significant(current_app.config, utcnow())
    deliver_due(current_app.config)
    click.echo(f"{sent} users notified of significant changes")


rights_cli = AppGroup("rights", help="Rights requests.")


@rights_cli.command("digest")
def rights_digest_command():
    """E-mail privacy staff the requests due within 7 days and the overdue ones (once a day)."""
    with atomic():
        count = send_digest(current_app.config, utcnow().date())
    if count is None:
        click.echo("digest already sent today")
    else:
        deliver_due(current_app.config)
        click.echo(f"digest sent: {count} requests")


audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("verify")
def verify_audit_command():
    """Check the audit log's hash chain from its anchor: every entry since it began sealed and linked;
    print where it began and its head; exit 1 and a line per problem."""
    report = audit_chain.verify(current_app.config)
    if report.genesis is not None:
        click.echo(f"chain began at entry #{report.genesis.entry_id} "
                   f"({report.genesis.created_at:%Y-%m-%d %H:%M:%S} UTC, hash {report.genesis.entry_hash or 'purged'})")
    if report.start is not None and report.start is not report.genesis:
        click.echo(f"chain starts at entry #{report.start.entry_id} after the retention purge "
                   f"(hash {report.start.entry_hash or 'none yet'})")
    click.echo(f"chain head {report.head or 'none'}; keep these lines off-site and compare them at the next check")
    for problem in report.problems:
        click.echo(f"BROKEN {problem}")
    click.echo(f"{report.checked} entries checked, {report.unsealed} from before the chain, "
               f"{'chain intact' if report.intact else f'{len(report.problems)} problems'}")
    if not report.intact:
        raise SystemExit(1)


keys_cli = AppGroup("keys", help="API keys.")


@keys_cli.command("remind-expiring")
def remind_expiring_command():
    """E-mail the owners of keys expiring within 7 days (once per key and expiry; run daily)."""
    with atomic():
        count = key_services.remind_expiring(current_app.config, utcnow())
    deliver_due(current_app.config)
    click.echo(f"expiry reminders queued: {count}")


crypto_cli = AppGroup("crypto", help="Field encryption keys.")


@crypto_cli.command("generate-key")
def generate_key_command():
    """Print a new key for DATA_ENCRYPTION_KEYS (put it first; keep the old ones after it)."""
    click.echo(new_key())


@crypto_cli.command("rotate")
@click.option("--batch-size", default=500, show_default=True)
def rotate_command(batch_size: int):
    """Re-encrypt every encrypted value with the newest key, in batches."""
    for column, count in rotate(batch_size=batch_size).items():
        click.echo(f"{column}: re-encrypted {count}")


drp_cli = AppGroup("drp", help="The Data Rights Protocol.")


@drp_cli.command("callbacks")
def drp_callbacks_command():
    """POST each changed request status to its agent's status_callback (run every minute)."""
    with atomic():
        delivered, failed = drp.send_callbacks(current_app.config, utcnow())
    click.echo(f"status callbacks: {delivered} delivered, {failed} failed (tried again later)")


def register_cli(app: Flask) -> None:
    app.cli.add_command(drp_cli)
    app.cli.add_command(show_config_command)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(crypto_cli)
    app.cli.add_command(credits_cli)
    app.cli.add_command(orders_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(rights_cli)
    app.cli.add_command(policies_cli)
    app.cli.add_command(usage_cli)
    app.cli.add_command(keys_cli)
