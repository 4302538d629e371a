"""Staff register authorized agents with their public key, and revoke them (audited). No request,
no commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.audit import services as audit
from app.audit.models import AuditAction
from app.drp.models import Agent
from app.extensions import db


class AgentExists(ValueError):
    pass


def register_agent(values: dict, actor, now: datetime, ip: str | None = None) -> Agent:
    if db.session.scalar(select(Agent.id).where(Agent.agent_id == values["agent_id"])):
        raise AgentExists(values["agent_id"])
    found = Agent(agent_id=values["agent_id"], name=values["name"], verify_key=values["verify_key"],
                  web_url=values["web_url"], technical_contact=values.get("technical_contact") or None, created_at=now)
    db.session.add(found)
    db.session.flush()
    audit.record(actor, AuditAction.PRIVACY_AGENT_REGISTER, now, target=found.agent_id, reason=found.name, ip=ip)
    return found


def revoke_agent(agent_pk: int, actor, now: datetime, ip: str | None = None) -> Agent | None:
    found = db.session.get(Agent, agent_pk)
    if found is None or found.revoked_at is not None:
        return None
    found.revoked_at = now
    audit.record(actor, AuditAction.PRIVACY_AGENT_REVOKE, now, target=found.agent_id, reason=found.name, ip=ip)
    db.session.flush()
    return found


def all_agents() -> list[Agent]:
    return list(db.session.scalars(select(Agent).order_by(Agent.created_at.desc())))
