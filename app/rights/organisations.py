"""Closing and erasing a team organisation, and its owners' export of its records. No request;
flush only (the purge commits per organisation).

Closing (by an owner): every key is revoked at once, open invitations end, the members are told;
the organisation no longer appears in their menus. After ACCOUNT_PURGE_DAYS it is erased: its
keys, raw calls, alert addresses, billing details, invitations, memberships and team log go; its
name is removed; orders and the credit ledger stay (tax law) with the invoices as issued, and the
daily usage totals without identity. A personal organisation closes and is erased with its account
(``rights.services``)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from app.billing.models import AlertRecipient, BillingDetails
from app.email import external_url, queue_email
from app.extensions import db
from app.keys.models import ApiKey
from app.labels import label
from app.organisations import events, members
from app.organisations import services as organisations
from app.organisations.models import Invitation, Membership, Organisation, Role, TeamAction, TeamEvent
from app.rights.export import TABLES, _iso, _owned_by, _Sink, write_csv
from app.uow import commit_now
from app.usage.models import ApiCall


def close_organisation(organisation: Organisation, actor, config, now: datetime) -> int:
    """Close a team organisation now; returns the keys revoked. Its members are told by e-mail."""
    organisation.closed_at = now
    revoked = db.session.execute(update(ApiKey).where(ApiKey.organisation_id == organisation.id,
                                                      ApiKey.revoked_at.is_(None)).values(revoked_at=now)).rowcount
    db.session.execute(update(Invitation).where(Invitation.organisation_id == organisation.id,
                                                Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
                       .values(revoked_at=now))
    events.record(organisation.id, actor, TeamAction.ORGANISATION_CLOSE, now, target=organisation.name)
    for membership in members.members(organisation.id):
        person = membership.user
        if person.erased_at is None and person.closed_at is None:
            queue_email(person.email, "organisation_closed", person.locale or config["BABEL_DEFAULT_LOCALE"],
                        organisation=organisation.display_name, purge_days=config["ACCOUNT_PURGE_DAYS"])
    db.session.flush()
    return revoked


def leave_every_team(user, config, now: datetime) -> None:
    """Before a person's data is erased (by a rights request too, on an account never closed):
    every key they made stops, and each team they alone own passes to its longest-standing admin
    (else member) or, with nobody left, closes. What they did stays in the team logs under their
    pseudonym; the invitations to their address go."""
    db.session.execute(update(ApiKey).where(ApiKey.created_by_id == user.id, ApiKey.revoked_at.is_(None))
                       .values(revoked_at=now))
    for organisation in organisations.sole_owned_teams(user.id):
        others = [m for m in members.members(organisation.id) if m.user_id != user.id
                  and m.user.erased_at is None and m.user.closed_at is None]
        heir = next((m for m in others if m.role == Role.ADMIN), None) or (others[0] if others else None)
        if heir is None:
            close_organisation(organisation, None, config, now)
            continue
        before, heir.role = heir.role, Role.OWNER
        events.record(organisation.id, None, TeamAction.MEMBER_ROLE, now, subject=heir.user,
                      target=f"{before} → {Role.OWNER}")
        queue_email(heir.user.email, "organisation_role_changed", heir.user.locale or config["BABEL_DEFAULT_LOCALE"],
                    organisation=organisation.display_name, before=before, role=Role.OWNER,
                    team_url=external_url("team.show_team", org=organisation.id))
    db.session.execute(delete(Invitation).where(Invitation.email == user.email))
    db.session.flush()


def due_for_erasure(config, now: datetime) -> list[int]:
    cutoff = now - timedelta(days=config["ACCOUNT_PURGE_DAYS"])
    return list(db.session.scalars(select(Organisation.id).where(
        Organisation.personal.is_(False), Organisation.closed_at < cutoff, Organisation.name.is_not(None))))


def erase_organisation(organisation: Organisation) -> dict[str, int]:
    """Erase a closed team organisation's records but what tax law keeps; the counts deleted."""
    own = organisation.id
    counts = {}
    for name, statement in (
        ("api_calls", delete(ApiCall).where(ApiCall.organisation_id == own)),
        ("api_keys", delete(ApiKey).where(ApiKey.organisation_id == own)),
        ("alert_recipients", delete(AlertRecipient).where(AlertRecipient.organisation_id == own)),
        ("billing_details", delete(BillingDetails).where(BillingDetails.organisation_id == own)),
        ("invitations", delete(Invitation).where(Invitation.organisation_id == own)),
        ("team_events", delete(TeamEvent).where(TeamEvent.organisation_id == own)),
        ("memberships", delete(Membership).where(Membership.organisation_id == own)),
    ):
        counts[name] = db.session.execute(statement.execution_options(retention_purge=True)).rowcount
    organisation.name = None
    organisation.alert_thresholds = organisation.alert_levels = None
    db.session.flush()
    return counts


def purge_closed_organisations(config, now: datetime) -> int:
    """Erase every team organisation closed longer than ACCOUNT_PURGE_DAYS ago, one transaction each."""
    erased = 0
    for organisation_id in due_for_erasure(config, now):
        erase_organisation(db.session.get(Organisation, organisation_id))
        commit_now("erasure: each organisation is erased in its own transaction")
        erased += 1
    return erased


ORGANISATION_TABLES = ("api_keys.csv", "alert_recipients.csv", "usage_daily.csv", "api_calls.csv",
                       "credit_ledger.csv", "orders.csv", "disputes.csv")


def export_zip(organisation: Organisation, config, now: datetime) -> Iterator[bytes]:
    """The organisation's records as a ZIP (for its owners), streamed file by file."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        counts = {}
        for name, model, columns in TABLES:
            if name not in ORGANISATION_TABLES:
                continue
            where = [_owned_by(model, -1, organisation.id)]
            if model is ApiCall:
                where.append(ApiCall.created_at >= now - timedelta(days=config["CALL_LOG_DAYS"]))
            counts[name] = yield from write_csv(archive, sink, name, model, where, columns)
        details = db.session.get(BillingDetails, organisation.id)
        archive.writestr("organisation.json", json.dumps({
            "name": organisation.display_name, "created_at": _iso(organisation.created_at),
            "credit_balance": organisation.credit_balance, "monthly_spend_limit": organisation.monthly_spend_limit,
            "alert_thresholds": organisation.alert_thresholds,
            "billing_details": {"name": details.name, "address": details.address, "country": details.country,
                                "tax_id": details.tax_id} if details else None,
            "members": [{"name": m.user.display_name, "email": m.user.email, "role": m.role,
                         "role_label": label("member_role", m.role), "member_since": _iso(m.created_at)}
                        for m in members.members(organisation.id)],
            "generated_at": _iso(now), "files": counts,
        }, ensure_ascii=False, indent=2))
        log = io.StringIO()
        json.dump([events.as_row(e) for e in events.every(organisation.id)], log, ensure_ascii=False, indent=2)
        archive.writestr("team_log.json", log.getvalue())
        yield sink.drain()
    yield sink.drain()
