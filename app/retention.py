"""The retention registry and the purge job behind ``flask privacy purge``.

Model columns that hold personal data are tagged ``info={"personal": True}``. Every table with
such a column declares at least one rule here: delete rows after N days, anonymise (or truncate)
columns after N days, or keep rows for a stated legal basis. Periods come from configuration, so
the published policy and the job read the same numbers. The purge works in batches, each in its
own short transaction, and is idempotent: running it twice changes nothing the second time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, false, literal_column, select, update

from app.extensions import db
from app.uow import commit_now

PERSONAL = {"personal": True}


@dataclass(frozen=True)
class Rule:
    """One retention rule.

    ``action`` is ``delete`` (remove matching rows), ``anonymise`` (cut each matching row's IP to
    its network, in one UPDATE a batch: the one anonymisation the rules need so far, made by
    ``ip_truncation_rule``) or ``keep`` (documented only: rows stay while ``legal_basis`` applies).
    ``selects(cutoff)`` returns the WHERE clause picking rows past their period.

    For a large table: ``keyset`` is an indexed column to walk the rows in (default: the id); a
    row done must no longer match ``selects`` (deleted, or flagged), so each batch starts where
    the last ended without rescanning. ``prepare(cutoff)`` runs first and returns the rows it
    removed some cheaper way (the call log's whole expired partitions).
    """

    name: str
    model: type
    action: str
    days_setting: str
    description: str
    selects: Callable | None = None
    legal_basis: str | None = None
    default_days: int | None = None
    keyset: object | None = None
    prepare: Callable | None = None

    @property
    def table(self) -> str:
        return self.model.__table__.name


RULES: list[Rule] = []


def register(rule: Rule) -> Rule:
    if any(r.name == rule.name for r in RULES):
        raise ValueError(f"retention rule {rule.name!r} registered twice")
    RULES.append(rule)
    return rule


def rule_days(rule: Rule, config) -> int:
    return int(config.get(rule.days_setting, rule.default_days))


def personal_tables() -> dict[str, list[str]]:
    """Tables holding personal data, with their tagged columns."""
    found: dict[str, list[str]] = {}
    for table in db.metadata.sorted_tables:
        columns = [c.name for c in table.columns if c.info.get("personal")]
        if columns:
            found[table.name] = columns
    return found


def _apply(rule: Rule, cutoff: datetime, batch_size: int, dry_run: bool) -> int:
    model = rule.model
    where = rule.selects(cutoff)
    if dry_run:
        return db.session.scalar(select(db.func.count()).select_from(model).where(where)) or 0
    total = 0
    if rule.prepare:
        commit_now("retention: hold no lock on the table while the cheaper way works on it")
        total = rule.prepare(cutoff)
    order = model.id if rule.keyset is None else rule.keyset
    columns = [model.id, order, model.ip] if rule.action == "anonymise" else [model.id, order]
    last = None
    while True:
        # Keyset batches: each starts where the last ended, so no batch rescans the index entries
        # of rows already done (a LIMIT from the start would, quadratically, on PostgreSQL).
        batch = select(*columns).where(where)
        if last is not None:
            batch = batch.where(order > last if rule.keyset is None else order >= last)
        rows = db.session.execute(batch.order_by(order).limit(batch_size)).all()
        if not rows:
            return total
        last = rows[-1][1]
        ids = [row[0] for row in rows]
        if rule.action == "delete":
            db.session.execute(
                db.delete(model).where(model.id.in_(ids)).execution_options(retention_purge=True)
            )
        else:
            _truncate_ips(model, rows, by_time=rule.keyset is not None and rule.keyset.key == "created_at")
        commit_now("retention: one batch a transaction, none over half a second")
        total += len(rows)


# PostgreSQL cuts an address to its network itself: IPv4 to /24, IPv6 to /48, as truncate_ip does.
NETWORK_SQL = ("host(network(set_masklen(CAST(ip AS inet), "
               "CASE WHEN family(CAST(ip AS inet)) = 4 THEN 24 ELSE 48 END)))")


def _inet_parsable(ip: str | None) -> bool:
    """An address PostgreSQL's inet reads (Python also takes an IPv6 zone, "fe80::1%eth0"; it does not)."""
    return bool(ip) and truncate_ip(ip) is not None and "%" not in ip


def _truncate_ips(model: type, rows, by_time: bool) -> None:
    """The batch in one statement, however many networks: on PostgreSQL one UPDATE that computes
    each network in SQL (the rare address inet cannot read goes through Python), on SQLite one
    executemany of the networks Python computed."""
    table = model.__table__
    in_python = rows
    if db.session.get_bind().dialect.name == "postgresql":
        valid = [row_id for row_id, _, ip in rows if _inet_parsable(ip)]
        in_python = [row for row in rows if not _inet_parsable(row[2])]
        # Rows walked by time: their time range lets PostgreSQL skip the partitions outside it.
        window = [table.c.created_at >= rows[0][1], table.c.created_at <= rows[-1][1]] if by_time else []
        if valid:
            db.session.execute(update(table).where(table.c.id.in_(valid), *window)
                               .values(ip=literal_column(NETWORK_SQL), ip_truncated=True))
    if in_python:
        db.session.execute(update(table).where(table.c.id == bindparam("row_id"))
                           .values(ip=bindparam("network"), ip_truncated=True),
                           [{"row_id": row_id, "network": truncate_ip(ip)} for row_id, _, ip in in_python])


def purge(config, now: datetime, dry_run: bool = False, batch_size: int = 1000,
          only: str | None = None) -> dict[str, int]:
    """Apply every rule (or the one named ``only``); return the rows each touched (or would touch)."""
    counts: dict[str, int] = {}
    for rule in RULES:
        if rule.action == "keep" or (only is not None and rule.name != only):
            continue
        cutoff = now - timedelta(days=rule_days(rule, config))
        counts[rule.name] = _apply(rule, cutoff, batch_size, dry_run)
    return counts


def ip_truncation_rule(name: str, model: type, days_setting: str, description: str, keyset=None) -> Rule:
    """A rule cutting ``model.ip`` to its network once ``model.created_at`` is older than the period.

    The model needs ``ip``, ``ip_truncated`` and ``created_at`` columns; ``keyset`` (for a large
    table) is a column indexed over the rows not yet truncated, like ``ix_api_calls_ip_whole``.
    """
    return Rule(name=name, model=model, action="anonymise", days_setting=days_setting, default_days=7,
                description=description, keyset=keyset,
                selects=lambda cutoff: db.and_(model.ip_truncated == false(), model.created_at < cutoff))


def truncate_ip(ip: str | None) -> str | None:
    """Keep the network, drop the host: IPv4 to /24, IPv6 to /48."""
    if not ip:
        return ip
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def markdown(config) -> str:
    """Every rule as a Markdown table, with the periods in force (docs/retention.md)."""
    lines = [
        "# Retention rules",
        "",
        "Generated from the retention registry (`app/retention.py` and the rules beside each model) by",
        "`flask --app wsgi privacy retention-doc --write docs/retention.md`; a test keeps it current.",
        "`flask privacy purge` applies them daily (see docs/deployment.md) and first erases accounts",
        f"closed more than {config['ACCOUNT_PURGE_DAYS']} days ago.",
        "",
        "| rule | table | action | period | setting | what happens |",
        "|---|---|---|---|---|---|",
    ]
    for rule in sorted(RULES, key=lambda r: r.name):
        period = f"{rule_days(rule, config)} days" if rule.action != "keep" else (rule.legal_basis or "")
        lines.append(f"| `{rule.name}` | `{rule.table}` | {rule.action} | {period} | `{rule.days_setting}` | "
                     f"{rule.description} |")
    lines += [
        "",
        "## Outside the database",
        "",
        "| where | what | lifetime |",
        "|---|---|---|",
        "| Redis, Flask-Limiter keys (`<RATELIMIT_KEY_PREFIX>/…`) | the client's raw IP, in the keys of the per-IP "
        "limits on registration and password reset | the limit's window, at most 1 hour, then Redis expires the key |",
        "| Redis, throttle keys (`throttle:…`) | a SHA-256 digest of the address or IP, never the value | the "
        "throttle's window (at most 1 hour) |",
        "| Redis, metering keys (`…:meter:…`) | account and key ids, call records with the IP until the flusher "
        "writes them to the call log | seconds (then the call log's rules apply) |",
        "| access logs (gunicorn, the TLS proxy) | the client IP and the path, with capability tokens redacted | the "
        f"operator's log rotation: keep them {config['CALL_IP_DAYS']} days at most (docs/deployment.md) |",
        "| the outbox | recipient and subject of delivered mail; the last message to an erased address is "
        "deleted once delivered | `outbox.sent` above |",
    ]
    return "\n".join(lines) + "\n"
