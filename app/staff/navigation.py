"""The staff console's side navigation: each page, the roles that may open it, and what waits there."""

from __future__ import annotations

from typing import NamedTuple

from flask_babel import lazy_gettext as _l


class Section(NamedTuple):
    endpoint: str
    label: object
    roles: tuple[str, ...]           # empty: every staff member
    also: tuple[str, ...] = ()       # other pages of the same section (marked current there too)
    count: str | None = None         # the key of ``waiting_counts`` shown beside the label


SECTIONS = (
    Section("staff.show_dashboard", _l("Dashboard"), ()),
    Section("staff.find_users", _l("Customers"), (), ("staff.show_user", "staff.act_on_user")),
    Section("staff.find_organisations", _l("Organisations"), (), ("staff.show_organisation",
                                                                   "staff.act_on_organisation")),
    Section("staff.list_orders", _l("Orders"), ("billing", "admin"), ("staff.show_order", "staff.adjust_credits")),
    Section("staff.list_messages", _l("Inbox"), ("support", "admin"), ("staff.show_message",), "messages"),
    Section("staff.list_requests", _l("Requests"), ("privacy", "admin"), ("staff.show_request",), "requests"),
    Section("staff.list_agents", _l("Agents"), ("privacy", "admin"), ("staff.revoke_agent",)),
    Section("staff.list_breaches", _l("Breaches"), ("privacy", "admin"), ("staff.show_breach",), "breaches"),
    Section("staff.show_policy_notices", _l("Policies"), ("admin", "privacy")),
    Section("staff.show_analytics", _l("Analytics"), ("admin",)),
    Section("staff.show_audit", _l("Audit"), ("admin", "privacy")),
    Section("staff.manage_team", _l("Team"), ("admin",)),
)


def sections_for(viewer) -> list[Section]:
    """The sections ``viewer``'s roles can open; the others are not shown at all."""
    return [s for s in SECTIONS if not s.roles or viewer.has_role(*s.roles)]


def current_section(sections: list[Section], endpoint: str | None) -> Section | None:
    return next((s for s in sections if endpoint == s.endpoint or endpoint in s.also), None)
