"""An organisation's members: invitations by e-mail, joining, roles, removal and leaving. No
request, no commit (flush only). The keys a removed member made are handled by the keys package
(``keys.services.revoke_made_by``), called by the view that removes them."""

from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import or_, select, update

from app import throttle
from app.addresses import InvalidEmail, normalise_email
from app.email import external_url, queue_email
from app.extensions import db
from app.organisations.events import record
from app.organisations.models import Invitation, Membership, Organisation, Permission, Role, TeamAction
from app.organisations.services import OrganisationError, owners
from app.security import hash_token, new_token

_SALT = "organisation-invitation"


class LastOwner(OrganisationError):
    """The change would leave the organisation without an owner."""


class NotAllowed(OrganisationError):
    """The acting member's role may not make this change (only owners grant or take the owner role)."""


class InvitationUnusable(OrganisationError):
    """The link is not one of ours, or its invitation was used, revoked or has expired."""


class WrongAddress(OrganisationError):
    """The signed-in account's address is not the invited one."""


class TooManyInvitations(OrganisationError):
    """The organisation sent too many invitations lately, or has too many open."""


INVITE_LIMIT = "20 per hour"  # per organisation: invitations carry its name to any address
MAX_OPEN_INVITATIONS = 50


def _locale(user, config) -> str:
    return (user.locale if user is not None else None) or config["BABEL_DEFAULT_LOCALE"]


def members(organisation_id: int) -> list[Membership]:
    """The organisation's members, owners first, then by when they joined."""
    order = {role: i for i, role in enumerate(Role)}
    found = db.session.scalars(select(Membership).where(Membership.organisation_id == organisation_id)
                               .order_by(Membership.created_at, Membership.id)).all()
    return sorted(found, key=lambda m: order.get(m.role, len(order)))


def pending_invitations(organisation_id: int, now: datetime) -> list[Invitation]:
    return list(db.session.scalars(select(Invitation).where(
        Invitation.organisation_id == organisation_id, Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None), Invitation.expires_at > now).order_by(Invitation.created_at)))


def _check_grant(actor: Membership, role: str) -> None:
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise NotAllowed("Only an owner can make someone an owner.")


def invite(actor: Membership, email: str, role: str, config, now: datetime) -> Invitation | None:
    """Invite ``email`` to the actor's organisation with ``role``; the link goes to that address.

    The same answer whether or not the address has an account, and whether or not it is already
    a member (then nothing is sent and None is returned): the inviter learns nothing about other
    accounts. Raises InvalidEmail, NotAllowed (an admin inviting an owner), OrganisationError
    (personal), TooManyInvitations (INVITE_LIMIT an hour, MAX_OPEN_INVITATIONS open).
    """
    organisation = actor.organisation
    if organisation.personal:
        raise OrganisationError("A personal organisation has no other members: create a team organisation.")
    role = Role(role)
    _check_grant(actor, role)
    address = normalise_email(email)
    if len(pending_invitations(organisation.id, now)) >= MAX_OPEN_INVITATIONS or not throttle.hit(
            INVITE_LIMIT, throttle.throttle_key("invite", str(organisation.id))).allowed:
        raise TooManyInvitations("Too many invitations: wait an hour, or withdraw open ones.")
    if db.session.scalar(select(Membership.id).where(Membership.organisation_id == organisation.id,
                                                     Membership.user.has(email=address))) is not None:
        return None  # a member already: nothing to send
    for old in pending_invitations(organisation.id, now):  # a new invitation replaces an open one
        if old.email == address:
            old.revoked_at = now
    secret = new_token()
    invitation = Invitation(organisation_id=organisation.id, email=address, role=role, token_hash=hash_token(secret),
                            invited_by_id=actor.user_id, created_at=now,
                            expires_at=now + timedelta(days=config["INVITATION_DAYS"]))
    db.session.add(invitation)
    db.session.flush()
    link = URLSafeSerializer(config["SECRET_KEY"], salt=_SALT).dumps([invitation.id, secret])
    inviter = actor.user
    record(organisation.id, inviter, TeamAction.MEMBER_INVITE, now, target=f"{address} ({role})")
    queue_email(address, "organisation_invitation", _locale(inviter, config), organisation=organisation.display_name,
                inviter=inviter.display_name, role=role, days=config["INVITATION_DAYS"],
                accept_url=external_url("team.show_invitation", token=link))
    return invitation


def read_invitation(token: str, config, now: datetime) -> Invitation:
    """The pending invitation a link names. Raises InvitationUnusable."""
    try:
        invitation_id, secret = URLSafeSerializer(config["SECRET_KEY"], salt=_SALT).loads(token)
    except (BadSignature, ValueError, TypeError) as exc:
        raise InvitationUnusable("This invitation link is not valid.") from exc
    invitation = db.session.get(Invitation, invitation_id) if isinstance(invitation_id, int) else None
    if invitation is None or not isinstance(secret, str) or invitation.token_hash != hash_token(secret) \
            or not invitation.pending(now) or invitation.organisation.closed_at is not None:
        raise InvitationUnusable("This invitation was used, withdrawn or has expired.")
    return invitation


def accept(token: str, user, config, now: datetime) -> Membership:
    """Join the organisation a link invites to, as ``user`` (whose address must be the invited one,
    and confirmed). Once: the invitation is claimed by a conditional update. The inviter and the
    owners are told. Raises InvitationUnusable, WrongAddress."""
    invitation = read_invitation(token, config, now)
    if user.email != invitation.email or not user.is_verified:
        raise WrongAddress("This invitation is for another e-mail address.")
    inviter = db.session.scalar(select(Membership).where(Membership.organisation_id == invitation.organisation_id,
                                                         Membership.user_id == invitation.invited_by_id))
    if inviter is None or not inviter.may(Permission.MANAGE_MEMBERS) or (
            invitation.role == Role.OWNER and inviter.role != Role.OWNER):
        raise InvitationUnusable("Whoever sent this invitation may no longer invite.")
    claimed = db.session.execute(update(Invitation).where(
        Invitation.id == invitation.id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .values(accepted_at=now, accepted_by_id=user.id))
    if claimed.rowcount != 1:
        raise InvitationUnusable("This invitation was used, withdrawn or has expired.")
    existing = db.session.scalar(select(Membership).where(Membership.organisation_id == invitation.organisation_id,
                                                          Membership.user_id == user.id))
    if existing is not None:
        return existing
    membership = Membership(organisation_id=invitation.organisation_id, user_id=user.id, role=invitation.role,
                            created_at=now)
    db.session.add(membership)
    db.session.flush()
    record(invitation.organisation_id, user, TeamAction.MEMBER_JOIN, now, subject=user, target=invitation.role)
    told = {p.id: p for p in owners(invitation.organisation_id)}
    if invitation.invited_by is not None and invitation.invited_by.erased_at is None:
        told.setdefault(invitation.invited_by.id, invitation.invited_by)
    for person in told.values():
        if person.id != user.id:
            queue_email(person.email, "organisation_member_joined", _locale(person, config),
                        organisation=invitation.organisation.display_name, member=user.display_name,
                        role=invitation.role, team_url=external_url("team.show_team",
                                                                    org=invitation.organisation_id))
    return membership


def revoke_invitation(organisation_id: int, invitation_id: int, now: datetime, actor=None) -> Invitation | None:
    """Withdraw a pending invitation of the organisation (None: there is no such invitation)."""
    invitation = db.session.scalar(select(Invitation).where(Invitation.id == invitation_id,
                                                            Invitation.organisation_id == organisation_id))
    if invitation is None or not invitation.pending(now):
        return None
    invitation.revoked_at = now
    db.session.flush()
    record(organisation_id, actor, TeamAction.INVITATION_REVOKE, now, target=invitation.email)
    return invitation


def member_of(organisation_id: int, membership_id: int) -> Membership | None:
    return db.session.scalar(select(Membership).where(Membership.id == membership_id,
                                                      Membership.organisation_id == organisation_id))


def _owner_count(organisation_id: int) -> int:
    """The owners who can still act: those whose accounts are open (a closed account's owner
    membership is erased with it)."""
    return len(db.session.scalars(select(Membership.id).where(
        Membership.organisation_id == organisation_id, Membership.role == Role.OWNER,
        Membership.user.has(closed_at=None, erased_at=None)).with_for_update(of=Membership)).all())


def change_role(actor: Membership, target: Membership, role: str, config, now: datetime) -> Membership:
    """Give ``target`` another role. Only owners grant or take the owner role; the last owner keeps it."""
    role = Role(role)
    if role == target.role:
        return target
    if Role.OWNER in (role, target.role):
        _check_grant(actor, Role.OWNER)
    if target.role == Role.OWNER and _owner_count(target.organisation_id) <= 1:
        raise LastOwner("The organisation's last owner keeps the owner role: make another member an owner first.")
    before, target.role = target.role, role
    db.session.flush()
    record(target.organisation_id, actor.user, TeamAction.MEMBER_ROLE, now, subject=target.user,
           target=f"{before} → {role}")
    person = target.user
    queue_email(person.email, "organisation_role_changed", _locale(person, config),
                organisation=target.organisation.display_name, before=before, role=role,
                team_url=external_url("team.show_team", org=target.organisation_id))
    return target


def remove(actor: Membership, target: Membership, config, now: datetime) -> int:
    """Remove ``target`` from the organisation (their access ends on their next request); returns
    the user id removed. Only owners remove owners; the last owner cannot go (leaving included)."""
    if target.role == Role.OWNER:
        if actor.user_id != target.user_id:
            _check_grant(actor, Role.OWNER)
        if _owner_count(target.organisation_id) <= 1:
            raise LastOwner("The organisation's last owner cannot leave it: make another member an owner, or close "
                            "the organisation.")
    if target.organisation.personal:
        raise OrganisationError("Nobody leaves their personal organisation.")
    organisation, person = target.organisation, target.user
    leaving = actor.user_id == person.id
    db.session.delete(target)
    # Their open invitations (sent by them, or to them) end with their membership.
    db.session.execute(update(Invitation).where(
        Invitation.organisation_id == organisation.id, Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None), or_(Invitation.invited_by_id == person.id, Invitation.email == person.email))
        .values(revoked_at=now))
    db.session.flush()
    record(organisation.id, actor.user, TeamAction.MEMBER_LEAVE if leaving else TeamAction.MEMBER_REMOVE, now,
           subject=person)
    if actor.user_id != person.id:
        queue_email(person.email, "organisation_member_removed", _locale(person, config),
                    organisation=organisation.display_name)
    return person.id


def open_organisation(organisation_id: int) -> Organisation | None:
    return db.session.scalar(select(Organisation).where(Organisation.id == organisation_id,
                                                        Organisation.closed_at.is_(None)))


__all__ = ["InvalidEmail", "InvitationUnusable", "LastOwner", "NotAllowed", "WrongAddress", "accept", "change_role",
           "invite", "member_of", "members", "pending_invitations", "read_invitation", "remove", "revoke_invitation"]
