"""Staff console views. The blueprint guards itself: see ``require_staff``."""

from __future__ import annotations

from datetime import date as date_type
from datetime import timedelta

from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import format_currency
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from app import charts
from app.audit import services as audit
from app.audit.models import AuditEntry
from app.auth import provisioning
from app.auth import services as auth_services
from app.auth.models import STAFF_ROLES, User, UserRole
from app.billing import gateway, refunds
from app.billing import services as billing
from app.billing.forms import AdjustCreditsForm, RefundForm
from app.billing.models import Order, WebhookEvent
from app.consent import services as consent_services
from app.contact import services as contact
from app.contact.forms import AssignForm, StaffReplyForm
from app.contact.models import STATUSES, TOPICS, ContactThread
from app.database import form_id
from app.email import OutboxMessage
from app.errors.services import error_texts
from app.extensions import db
from app.legal import services as legal
from app.rights import workflow as rights
from app.security import staff
from app.staff import routes_customers, routes_requests  # noqa: F401 - their views register on bp
from app.staff import services as staff_services
from app.staff.blueprint import bp
from app.staff.services import notify
from app.timeutil import utcnow


@bp.before_request
def require_staff():
    """Anonymous: sign in. Customers: 403. Staff without 2FA: a page saying how to turn it on."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.is_staff:
        title, explanation = error_texts(403)
        return render_template("errors/error.html", status=403, title=title, explanation=explanation), 403
    if not current_user.has_2fa:
        return render_template("staff/needs_2fa.html"), 403
    return None


@bp.after_request
def never_cache(response):
    """Staff pages show customers' data: no browser or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@staff()
def show_dashboard():
    """The staff home: who you are, what your roles allow, and the latest staff actions."""
    recent = []
    if current_user.has_role("admin", "privacy"):
        recent = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(20)).all()
    counts = contact.inbox_counts() if current_user.has_role("support", "admin") else None
    return render_template("staff/dashboard.html", recent=recent, inbox=counts, **_dashboard_counts())


def _dashboard_counts() -> dict:

    today = utcnow().date()
    counts = {}
    if current_user.has_role("privacy", "admin"):
        counts["requests_week"] = len(rights.queue("week", current_user.id, today))
        counts["requests_overdue"] = len(rights.queue("overdue", current_user.id, today))
    if current_user.has_role("billing", "admin"):
        counts["recent_orders"] = db.session.scalars(select(Order).order_by(Order.id.desc()).limit(5)).all()
        counts["webhooks_unmatched"] = db.session.scalar(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.outcome == "unknown order"))
    if current_user.has_role("admin"):
        counts["mail_failing"] = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.attempts > 0))
    return counts


@bp.get("/analytics")
@staff("admin")
def show_analytics():
    """First-party page analytics: views and unique visitors per day, and the most viewed pages."""
    days = min(max(request.args.get("days", 30, type=int) or 30, 7), 366)
    until = utcnow().date()
    since = until - timedelta(days=days - 1)
    totals = consent_services.daily_totals(since, until)
    chart = charts.bar_chart([(t["day"].isoformat(), t["views"]) for t in totals])
    return render_template("staff/analytics.html", totals=totals, chart=chart, days=days,
                           top=consent_services.top_pages(since, until))


# --- billing (billing and admin roles) ---------------------------------------------------------


@bp.get("/orders")
@staff("billing", "admin")
def list_orders():
    """Orders, newest first; search by order reference or customer e-mail."""
    query = (request.args.get("q") or "").strip()[:254]
    statement = select(Order, User.email).outerjoin(User, User.id == Order.user_id).order_by(Order.id.desc())
    if query:
        statement = statement.where(db.or_(Order.reference == query.upper(), User.email == query.lower()))
    rows = db.session.execute(statement.limit(200)).all()
    return render_template("staff/orders.html", rows=rows, query=query)


@bp.route("/orders/<reference>", methods=["GET", "POST"])
@staff("billing", "admin")
def show_order(reference: str):
    """One order, with a refund form. The refund's effect arrives with Stripe's webhook."""
    order = billing.find_order(reference)
    if order is None:
        abort(404)
    buyer = db.session.get(User, order.user_id) if order.user_id else None
    form = RefundForm()
    if request.method == "GET":
        audit.record(current_user, "billing:order:view", utcnow(), target_user=buyer, target=order.reference,
                     ip=request.remote_addr)
        db.session.commit()
    if request.method != "POST" or not form.validate_on_submit():
        return render_template("staff/order.html", order=order, buyer=buyer, form=form), 400 if form.errors else 200
    try:
        amount = refunds.refundable_amount(order, form.amount.data)
        if request.form.get("confirmed") != "yes":
            return _confirm_refund(order, amount)
        done = refunds.refund(order, amount, current_user, form.reason.data, gateway.current_gateway(),
                              current_app.config, utcnow(), request.remote_addr)
    except refunds.NotRefundable:
        flash(_("This order cannot be refunded."), "error")
        return redirect(url_for("staff.show_order", reference=reference), code=303)
    flash(_("Refund sent to Stripe. The order changes when Stripe confirms it.") if done == "requested"
          else _("Demo refund applied."), "success")
    return redirect(url_for("staff.show_order", reference=reference), code=303)


def _confirm_refund(order, amount: int):
    price = format_currency(amount / 100, order.currency)
    return render_template(
        "staff/confirm.html", title=_("Refund %(amount)s?", amount=price), button=_("Refund"),
        consequence=_("The money goes back to the buyer's card and the credits it bought are taken back, "
                      "as far as they are unused. This cannot be undone."),
        action_url=url_for("staff.show_order", reference=order.reference), fields=request.form,
        cancel_url=url_for("staff.show_order", reference=order.reference))


@bp.route("/credits", methods=["GET", "POST"])
@staff("billing", "admin")
def adjust_credits():
    """Add or remove a customer's credits, with a mandatory reason (audited, in the ledger)."""
    form = AdjustCreditsForm()
    if form.validate_on_submit():
        user = auth_services.find_user_by_email(form.email.data)
        if user is None:
            form.email.errors.append(_("No account has this e-mail address."))
        else:
            try:
                billing.add_credits(user, form.amount.data, "adjustment", utcnow(), reason=form.reason.data,
                                    actor=current_user)
            except billing.InsufficientCredits as exc:
                form.amount.errors.append(_("The balance is only %(balance)s credits.", balance=exc.balance))
            else:
                audit.record(current_user, "billing:credits:adjust", utcnow(), target_user=user,
                             reason=f"{form.amount.data:+d}: {form.reason.data}", ip=request.remote_addr)

                notify(user, "credits", current_app.config)
                db.session.commit()
                flash(_("The balance of %(email)s is now %(balance)s credits.", email=user.email,
                        balance=user.credit_balance), "success")
                return redirect(url_for("staff.adjust_credits"), code=303)
    return render_template("staff/credits.html", form=form), 400 if form.errors else 200


# --- support inbox (support and admin roles) -----------------------------------------------------


def _staff_members():
    return db.session.scalars(select(User).join(UserRole).where(UserRole.role.in_(("support", "admin")))
                              .distinct().order_by(User.email)).all()


@bp.get("/messages")
@staff("support", "admin")
def list_messages():
    """The inbox: filter by status and topic, search by reference or e-mail."""
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    topic = request.args.get("topic") if request.args.get("topic") in TOPICS else None
    query = (request.args.get("q") or "").strip()[:254] or None
    threads = contact.inbox(status, topic, query)
    staff_by_id = {u.id: u for u in _staff_members()}
    return render_template("staff/messages.html", threads=threads, status=status, topic=topic, query=query or "",
                           statuses=STATUSES, topics=TOPICS, staff_by_id=staff_by_id)


@bp.route("/messages/<reference>", methods=["GET", "POST"])
@staff("support", "admin")
def show_message(reference: str):
    """One thread: reply (e-mailed), internal note, assign, close or reopen. Everything audited."""
    thread = db.session.scalar(select(ContactThread).where(ContactThread.reference == reference))
    if thread is None:
        abort(404)
    members = _staff_members()
    reply_form, assign_form = StaffReplyForm(), AssignForm()
    assign_form.assignee.choices = [(0, _("nobody"))] + [(u.id, u.email) for u in members]
    if request.method == "GET":
        contact.record_staff_access(thread, current_user, "view", utcnow(), request.remote_addr)
        db.session.commit()
        assign_form.assignee.data = thread.assignee_id or 0
        return render_template("staff/message.html", thread=thread, reply_form=reply_form,
                               assign_form=assign_form, members=members)
    action = request.form.get("action", "")
    form = assign_form if action == "assign" else reply_form
    if action not in contact.STAFF_ACTIONS or (action in ("reply", "note", "assign") and not form.validate_on_submit()):
        status = 400 if (reply_form.errors or assign_form.errors or action not in contact.STAFF_ACTIONS) else 200
        return render_template("staff/message.html", thread=thread, reply_form=reply_form,
                               assign_form=assign_form, members=members), status
    contact.staff_action(thread, current_user, action, message=reply_form.message.data,
                         assignee=assign_form.assignee.data, config=current_app.config, now=utcnow(),
                         ip=request.remote_addr)
    db.session.commit()
    flash(_("Done."), "success")
    return redirect(url_for("staff.show_message", reference=reference), code=303)


# --- the audit log (admin and privacy roles) -----------------------------------------------------------------


def _audit_filters():
    def day(name):
        try:
            return date_type.fromisoformat(request.args.get(name, ""))
        except ValueError:
            return None

    return (request.args.get("staff") or None, request.args.get("customer") or None,
            request.args.get("action") or None, day("since"), day("until"))


@bp.get("/audit")
@staff("admin", "privacy")
def show_audit():
    """Every staff action and staff look at personal data; filter by staff, customer, action and date."""
    filters = _audit_filters()
    entries = db.session.scalars(staff_services.audit_query(*filters).limit(500)).all()
    return render_template("staff/audit.html", entries=entries, args=request.args)


@bp.get("/audit.csv")
@staff("admin", "privacy")
def download_audit():

    lines = staff_services.audit_csv(staff_services.audit_query(*_audit_filters()))
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


# --- the team (admin) -----------------------------------------------------------------------------------------


@bp.route("/team", methods=["GET", "POST"])
@staff("admin")
def manage_team():
    """Invite staff, change their roles, remove them (never the last admin)."""
    if request.method == "POST":
        action, now, ip = request.form.get("action", ""), utcnow(), request.remote_addr
        roles = request.form.getlist("roles")
        try:
            if action == "invite":
                email = request.form.get("email", "")
                if not roles or not email.strip():
                    raise ValueError(_("Give an e-mail address and at least one role."))
                staff_services.invite(email, roles, current_user, current_app.config, now, ip)
            elif action in ("roles", "remove"):
                member = db.session.get(User, form_id(request.form.get("user_id")) or 0)
                if member is None:
                    abort(404)
                staff_services.set_roles(member, [] if action == "remove" else roles, current_user, now, ip)
            else:
                abort(400)
        except (staff_services.LastAdmin, auth_services.InvalidEmail, provisioning.UnknownRole, ValueError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return render_template("staff/team.html", members=staff_services.team(), roles=STAFF_ROLES), 400
        db.session.commit()
        flash(_("Done."), "success")
        return redirect(url_for("staff.manage_team"), code=303)
    return render_template("staff/team.html", members=staff_services.team(), roles=STAFF_ROLES)


@bp.get("/policies")
@staff("admin", "privacy")
def show_policy_notices():
    """How many users were notified of each significant change, and how many viewed or acknowledged it."""
    return render_template("staff/policies.html", stats=legal.notice_stats())
