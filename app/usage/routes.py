"""The usage page and its CSV downloads."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _

from app import charts
from app.metering import services as metering
from app.organisations.access import current_membership, current_organisation, member
from app.organisations.models import Permission
from app.pricing import get_pricing
from app.timeutil import utcnow
from app.usage import call_log, services
from app.usage.forms import CallFilterForm

bp = Blueprint("usage", __name__)

RANGES = (7, 30, 90)


def _range() -> tuple[int, object, object]:
    days = request.args.get("days", 30, type=int)
    days = days if days in RANGES else 30
    until = utcnow().date()
    return days, until - timedelta(days=days - 1), until


@bp.get("/account/usage")
@member(Permission.VIEW)
def show_usage():
    """The organisation's calls and credits per day (SVG chart and table), by endpoint and by key
    (every member's), and its balance."""
    days, since, until = _range()
    organisation_id = current_organisation().id
    daily = services.daily(organisation_id, since, until)
    chart = charts.bar_chart([d["calls"] for d in daily], part=[d["errors"] for d in daily],
                             line=[d["credits"] for d in daily], highlight=len(daily) - 1)
    tips = [_("%(day)s — calls: %(calls)s, credits: %(credits)s, errors: %(errors)s",
              day=format_date(d["day"], "medium"), calls=format_decimal(d["calls"]),
              credits=format_decimal(d["credits"]), errors=format_decimal(d["errors"])) for d in daily]
    pricing = get_pricing()
    return render_template(
        "usage/usage.html", days=days, ranges=RANGES, daily=daily, chart=chart, tips=tips,
        endpoints=services.by_endpoint(organisation_id, since, until),
        keys=services.by_key(organisation_id, since, until),
        balance=metering.shown_balance(organisation_id), pricing=pricing,
        totals={k: sum(d[k] for d in daily) for k in ("calls", "credits", "errors")},
        call_log_days=current_app.config["CALL_LOG_DAYS"],
        may_buy=current_membership().may(Permission.MANAGE_BILLING),
    )


def _csv(lines, filename: str) -> Response:
    return Response(stream_with_context(lines), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@bp.get("/account/usage.csv")
@member(Permission.VIEW)
def download_usage_csv():
    """Daily usage of the chosen range as CSV."""
    days, since, until = _range()
    return _csv(services.daily_csv(current_organisation().id, since, until), f"usage-{since}-{until}.csv")


def _call_filters() -> tuple[CallFilterForm, call_log.CallFilters | None]:
    """The explorer's filters from the query string; None when they do not validate."""
    form = CallFilterForm(request.args, call_log.organisation_keys(current_organisation().id),
                          [e.path for e in get_pricing().endpoints])
    return form, form.filters() if not request.args or form.validate() else None


def _oldest_kept():
    return utcnow() - timedelta(days=current_app.config["CALL_LOG_DAYS"])


@bp.get("/account/usage/calls")
@member(Permission.VIEW)
def explore_calls():
    """The raw calls within retention, filtered by date, key, endpoint, status and request id."""
    form, filters = _call_filters()
    result = call_log.page(current_organisation().id, filters, _oldest_kept(), request.args.get("before")) \
        if filters is not None else call_log.CallPage([], None)
    # Only the form's own fields go back into links (a stray "endpoint" or "_external" would not).
    query = {field.name: request.args[field.name] for field in form if request.args.get(field.name)}
    return render_template("usage/calls.html", form=form, page=result, query=query, searched=bool(query),
                           call_log_days=current_app.config["CALL_LOG_DAYS"]), 200 if filters is not None else 400


@bp.get("/account/usage/calls.csv")
@member(Permission.VIEW)
def download_calls_csv():
    """The calls the explorer's filters select (every call still kept without them), streamed as CSV."""
    form, filters = _call_filters()
    if filters is None:
        return render_template("usage/calls.html", form=form, page=call_log.CallPage([], None), query={},
                               searched=True, call_log_days=current_app.config["CALL_LOG_DAYS"]), 400
    rows = call_log.csv_rows(current_organisation().id, filters, _oldest_kept())
    return _csv(services.calls_csv(rows), "api-calls.csv")
