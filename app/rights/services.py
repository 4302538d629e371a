"""Account closure, reopening and erasure. No request; flush only (the purge commits per account)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select, update

from app.audit import services as audit
from app.audit.models import AuditAction, StaffAccess
from app.auth.models import (
    AccountToken,
    Passkey,
    RecoveryCode,
    SecurityEvent,
    SessionEndReason,
    User,
    UserRole,
    UserSession,
)
from app.auth.passwords import hash_password
from app.billing.models import AlertRecipient, BillingDetails
from app.consent.models import ConsentRecord, SeparateConsent
from app.contact.models import ContactThread
from app.email import OutboxMessage, deliver_due, queue_email
from app.extensions import db
from app.keys.models import ApiKey
from app.mail_preferences import MailPreference
from app.organisations import services as organisations
from app.organisations.models import Membership, TeamEvent
from app.rights import organisations as closing
from app.rights.models import OPEN_STATUSES, LegalHold, RightsRequest
from app.uow import commit_now
from app.usage.models import ApiCall, UsageDaily


class OwnsTeams(Exception):
    """The account is the only owner of team organisations (``teams``): hand them over or close them first."""

    def __init__(self, teams):
        super().__init__(", ".join(t.display_name for t in teams))
        self.teams = teams


def close_account(user: User, config, now: datetime) -> None:
    """Close now: sessions end, the personal organisation closes and every key the person made
    (in any organisation) is revoked at once; sign in within the grace period to reopen.
    Refused (OwnsTeams) while the person is the only owner of a team organisation."""
    teams = organisations.sole_owned_teams(user.id)
    if teams:
        raise OwnsTeams(teams)
    user.closed_at = now
    personal = organisations.set_personal_closed(user.id, now)
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
                       .values(ended_at=now, end_reason=SessionEndReason.ACCOUNT_CLOSED))
    made_here = ApiKey.created_by_id == user.id
    if personal is not None:
        made_here = or_(made_here, ApiKey.organisation_id == personal.id)
    db.session.execute(update(ApiKey).where(made_here, ApiKey.revoked_at.is_(None)).values(revoked_at=now))
    queue_email(user.email, "account_closed", user.locale or config["BABEL_DEFAULT_LOCALE"],
                grace_days=config["ACCOUNT_GRACE_DAYS"], purge_days=config["ACCOUNT_PURGE_DAYS"],
                erase_on=(now + timedelta(days=config["ACCOUNT_PURGE_DAYS"])).date().isoformat())
    db.session.flush()


def record_export(user: User, now: datetime, ip: str | None = None) -> None:
    """The audit row of a customer downloading their own data."""
    audit.record(user, AuditAction.PRIVACY_EXPORT, now, target_user=user, ip=ip)


def accounts_due_for_erasure(config, now: datetime) -> list[int]:
    """Closed long enough, and neither under a legal hold nor with an open rights request."""
    cutoff = now - timedelta(days=config["ACCOUNT_PURGE_DAYS"])
    held = select(LegalHold.user_id).where(LegalHold.released_at.is_(None), LegalHold.ends_on >= now.date())
    pending = select(RightsRequest.user_id).where(RightsRequest.status.in_(OPEN_STATUSES),
                                                  RightsRequest.user_id.is_not(None))
    return list(db.session.scalars(select(User.id).where(
        User.closed_at < cutoff, User.erased_at.is_(None), User.id.not_in(held), User.id.not_in(pending))))


def erase_account(user: User, config, now: datetime, hard: bool = False, notify: bool = True) -> dict:
    """Erase a closed account; return what was deleted, anonymised and kept.

    Deleted: sessions, security events, tokens, 2FA codes, passkeys, records of staff access, roles,
    memberships of team organisations, consent records, support threads, unsent and sent mail to
    the address; of the personal organisation: its API keys (their calls' key link goes), raw API
    calls, alert addresses, billing details and team log; the invitations to the address. The
    keys the person made in team organisations belong to those organisations: they stay, revoked,
    without their maker; a team they alone own passes to another member or closes
    (``rights.organisations.leave_every_team``).
    Anonymised: the account row (the e-mail address becomes free), audit entries about it.
    Kept, pseudonymised: orders and the credit ledger (tax law), daily usage roll-ups; invoices
    and credit notes as issued (tax law: they keep the billing name and address they were made out to).
    ``hard`` (a minor's account): the account row, the personal organisation and everything hanging
    from them are deleted instead of anonymised; only orders stay, with no link to anyone.
    """
    email, locale, closed = user.email, user.locale or config["BABEL_DEFAULT_LOCALE"], user.closed_at
    pseudonym = f"erased-user-{user.id}"
    report = {"deleted": {}, "anonymised": ["account", "audit entries"],
              "kept": {"orders": config["ORDER_RETENTION_YEARS"], "credit ledger": config["ORDER_RETENTION_YEARS"],
                       "invoices": config["ORDER_RETENTION_YEARS"],
                       "daily usage totals": None}}
    personal = organisations.personal_organisation(user.id)
    own = personal.id if personal is not None else -1
    closing.leave_every_team(user, config, now)
    for label, statement in (
        (_l("sign-in sessions"), delete(UserSession).where(UserSession.user_id == user.id)),
        (_l("security events"), delete(SecurityEvent).where(SecurityEvent.user_id == user.id)),
        (_l("e-mailed links"), delete(AccountToken).where(AccountToken.user_id == user.id)),
        (_l("recovery codes"), delete(RecoveryCode).where(RecoveryCode.user_id == user.id)),
        (_l("passkeys"), delete(Passkey).where(Passkey.user_id == user.id)),
        (_l("records of staff access"), delete(StaffAccess).where(StaffAccess.user_id == user.id)),
        (_l("separate consents"), delete(SeparateConsent).where(SeparateConsent.user_id == user.id)),
        (_l("staff roles"), delete(UserRole).where(UserRole.user_id == user.id)),
        (_l("API calls"), delete(ApiCall).where(ApiCall.organisation_id == own)),
        (_l("API keys"), delete(ApiKey).where(ApiKey.organisation_id == own)),
        (_l("alert addresses"), delete(AlertRecipient).where(AlertRecipient.organisation_id == own)),
        (_l("e-mail choices"), delete(MailPreference).where(MailPreference.user_id == user.id)),
        (_l("billing details"), delete(BillingDetails).where(BillingDetails.organisation_id == own)),
        (_l("team memberships"), delete(Membership).where(Membership.user_id == user.id,
                                                          Membership.organisation_id != own)),
        (_l("team log of the personal organisation"), delete(TeamEvent).where(TeamEvent.organisation_id == own)),
        (_l("cookie consent records"), delete(ConsentRecord).where(ConsentRecord.user_id == user.id)),
        (_l("support conversations"), delete(ContactThread).where(or_(ContactThread.user_id == user.id,
                                                                   ContactThread.email == email))),
        (_l("e-mail copies"), delete(OutboxMessage).where(OutboxMessage.recipient == email)),
    ):
        report["deleted"][label] = db.session.execute(statement.execution_options(retention_purge=True)).rowcount
    audit.pseudonymise_subject(user.id, pseudonym)
    # Team logs name people by id; an address written into an entry (an invitation, an alert address) goes.
    db.session.execute(update(TeamEvent).where(TeamEvent.target.contains(email))
                       .values(target=func.replace(TeamEvent.target, email, f"{pseudonym}@erased.invalid")))
    user.email = f"{pseudonym}@erased.invalid"
    user.nickname = None
    user.locale = None
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    user.totp_secret = None
    user.totp_enabled_at = None
    user.erased_at = now
    db.session.flush()
    if hard:
        db.session.execute(delete(UsageDaily).where(UsageDaily.organisation_id == own))
        if personal is not None:
            db.session.delete(personal)
        db.session.delete(user)
        db.session.flush()
    if not notify:  # a rights request tells the requester itself, with everything erased
        return {"report": report, "final_mail_id": None, "email": email}
    message = queue_email(email, "account_erased", locale, ephemeral=True, report=report, closed=closed)
    return {"report": report, "final_mail_id": message.id, "email": email}


def purge_closed_accounts(config, now: datetime) -> int:
    """Erase every account closed longer than ACCOUNT_PURGE_DAYS ago, one transaction each."""
    erased = 0
    for user_id in accounts_due_for_erasure(config, now):
        user = db.session.get(User, user_id)
        result = erase_account(user, config, now)
        commit_now("erasure: each account is erased for good before its last e-mail goes")
        # The final e-mail goes now; once delivered, its copy (the last trace of the address) is deleted.
        deliver_due(config, now=now, ids=[result["final_mail_id"]])
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.id == result["final_mail_id"],
                                                       OutboxMessage.sent_at.is_not(None)))
        commit_now("erasure: the delivered last e-mail's copy is gone with the account")
        erased += 1
    return erased
