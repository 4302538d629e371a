"""Services behind the public pages (no request access here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app.email import outbox_backlog
from app.extensions import db


def health(config, redis_client, now: datetime, meter=None) -> tuple[bool, dict]:
    """Whether the app can serve, and a report of each dependency.

    Down (not ready): the database, or Redis when REDIS_URL is set (rate limits, throttles and the
    meter live there). The outbox backlog and the call records waiting for the flusher are
    reported, never fatal: mail waits and is retried, records wait in Redis until written.
    """
    report: dict = {"database": "ok" if database_is_up() else "unavailable"}
    if redis_client is not None:
        report["redis"] = "ok" if redis_is_up(redis_client) else "unavailable"
    ready = all(value == "ok" for value in report.values())
    if report.get("redis") == "ok" and getattr(meter, "name", None) == "redis":
        report["call_records"] = call_record_backlog(meter, now)
    if report["database"] == "ok":
        queued, oldest = outbox_backlog(now)
        report["outbox"] = {"queued": queued, "oldest_seconds": oldest}
    report["demo_mode"] = bool(config.get("DEMO_MODE"))
    return ready, report


def call_record_backlog(meter, now: datetime) -> dict:
    try:
        waiting, oldest = meter.backlog(int(now.replace(tzinfo=UTC).timestamp() * 1000))
    except Exception:  # noqa: BLE001 - a report, never a reason for the health check to fail
        return {"waiting": None, "oldest_seconds": None}
    return {"waiting": waiting, "oldest_seconds": oldest}


def redis_is_up(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - any failure means "down" for the health check
        return False


def database_is_up() -> bool:
    """True when the database answers a trivial query."""
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "down" for the health check
        db.session.rollback()
        return False


def security_txt(site_url: str, security_email: str, now: datetime | None = None) -> str:
    """An RFC 9116 security.txt; Expires is always a year ahead, so it never goes stale."""
    now = now or datetime.now(UTC)
    expires = (now + timedelta(days=365)).replace(microsecond=0)
    lines = [
        f"Contact: mailto:{security_email}",
        f"Expires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "Preferred-Languages: en, zh",
        f"Canonical: {site_url}/.well-known/security.txt",
        f"Policy: {site_url}/privacy",
    ]
    return "\n".join(lines) + "\n"


# Paths for one person or for programs: nothing a search engine should list.
NOT_FOR_CRAWLERS = ("/account", "/staff", "/api/", "/billing", "/login", "/reauth", "/reset-password",
                    "/verify-email", "/contact/thread", "/privacy/request")


def robots_txt(site_url: str) -> str:
    lines = ["User-agent: *", *[f"Disallow: {path}" for path in NOT_FOR_CRAWLERS], "Allow: /api/v1/openapi.json",
             "", f"# {site_url}/docs/api describes the API; /.well-known/security.txt how to report a flaw."]
    return "\n".join(lines) + "\n"
