"""The team audit log of the organisation worked in: filters, pages, CSV and JSON."""

from __future__ import annotations

import json

from flask import Response, render_template, request, stream_with_context

from app.csvstream import csv_lines
from app.organisations import events, members
from app.organisations.access import current_membership, member
from app.organisations.forms import TeamLogFilterForm
from app.organisations.models import Permission
from app.team.blueprint import bp

COLUMNS = ["time", "action", "action_label", "by", "actor", "member", "target"]


def _filters() -> tuple[TeamLogFilterForm, events.EventFilter]:
    organisation_id = current_membership().organisation_id
    people = [(m.user_id, m.user.display_name) for m in members.members(organisation_id)]
    form = TeamLogFilterForm(request.args, people)
    if not form.validate():
        return form, events.EventFilter()
    return form, events.EventFilter(group=form.group.data or None, actor_id=form.actor.data or None,
                                    since=form.since.data, until=form.until.data)


@bp.get("/account/team/log")
@member(Permission.VIEW)
def show_log():
    """Who did what in the organisation, newest first, 50 a page."""
    form, filters = _filters()
    entries, more = events.page(current_membership().organisation_id, filters, form.before.data)
    return render_template("team/log.html", form=form, entries=entries, more=more, actor_name=events.actor_name,
                           person=events.person, query={k: v for k, v in request.args.items() if k != "before"}), \
        400 if form.errors else 200


def _download(body, mimetype: str, filename: str) -> Response:
    return Response(stream_with_context(body), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@bp.get("/account/team/log.csv")
@member(Permission.VIEW)
def export_log_csv():
    """The log as its filters select it, as CSV (oldest first)."""
    _form, filters = _filters()
    rows = ([row[c] for c in COLUMNS] for row in map(events.as_row,
                                                     events.every(current_membership().organisation_id, filters)))
    return _download(csv_lines(COLUMNS, rows), "text/csv", "team-log.csv")


@bp.get("/account/team/log.json")
@member(Permission.VIEW)
def export_log_json():
    """The log as its filters select it, as a JSON array (oldest first)."""
    _form, filters = _filters()
    organisation_id = current_membership().organisation_id

    def body():
        yield "["
        for i, event in enumerate(events.every(organisation_id, filters)):
            yield ("," if i else "") + json.dumps(events.as_row(event), ensure_ascii=False)
        yield "]\n"

    return _download(body(), "application/json", "team-log.json")
