"""Staff console: authorized agents of the Data Rights Protocol (privacy officers and admins)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.drp import agents
from app.drp.forms import AgentForm
from app.security import staff
from app.staff.blueprint import bp
from app.timeutil import utcnow


@bp.route("/agents", methods=["GET", "POST"])
@staff("privacy", "admin")
def list_agents():
    """The agents that may file requests for people, and a form to register one."""
    form = AgentForm()
    if form.validate_on_submit():
        try:
            found = agents.register_agent(form.data, current_user, utcnow(), request.remote_addr)
        except agents.AgentExists:
            form.agent_id.errors.append(_("An agent with this id is registered already."))
        else:
            flash(_("%(name)s is registered: it can pair for a token and file requests.", name=found.name), "success")
            return redirect(url_for("staff.list_agents"), code=303)
    return render_template("staff/agents.html", form=form, agents=agents.all_agents(),
                           business_id=current_app.config["DRP_BUSINESS_ID"]), 400 if form.errors else 200


@bp.post("/agents/<int:agent_pk>/revoke")
@staff("privacy", "admin")
def revoke_agent(agent_pk: int):
    """Revoke an agent: its tokens stop working at once; its requests stay with us."""
    found = agents.revoke_agent(agent_pk, current_user, utcnow(), request.remote_addr)
    if found is None:
        flash(_("That agent was already revoked."), "info")
    else:
        flash(_("%(name)s is revoked: its tokens no longer work.", name=found.name), "success")
    return redirect(url_for("staff.list_agents"), code=303)
