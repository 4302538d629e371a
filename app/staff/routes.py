"""Staff console views. The blueprint guards itself: see ``require_staff``."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app import charts
from app.audit.models import AuditEntry
from app.consent import services as consent_services
from app.errors.services import error_texts
from app.extensions import db
from app.security import staff
from app.staff import bp
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
    from app.contact import services as contact

    recent = []
    if current_user.has_role("admin", "privacy"):
        recent = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(20)).all()
    counts = contact.inbox_counts() if current_user.has_role("support", "admin") else None
    return render_template("staff/dashboard.html", recent=recent, inbox=counts)


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
    from app.auth.models import User
    from app.billing.models import Order

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
    from app.audit import services as audit
    from app.auth.models import User
    from app.billing import services as billing
    from app.billing.forms import RefundForm
    from app.billing.routes import payment_gateway, process_webhook

    order = billing.find_order(reference)
    if order is None:
        abort(404)
    buyer = db.session.get(User, order.user_id) if order.user_id else None
    form = RefundForm()
    if request.method == "POST" and form.validate_on_submit():
        left = order.amount_cents - order.refunded_cents
        amount = min(form.amount.data or left, left)
        if order.status not in ("paid", "partially_refunded") or amount <= 0:
            flash(_("This order cannot be refunded."), "error")
            return redirect(url_for("staff.show_order", reference=reference), code=303)
        audit.record(current_user, "billing:order:refund", utcnow(), target_user=buyer,
                     target=order.reference, reason=f"{amount} cents: {form.reason.data}", ip=request.remote_addr)
        db.session.commit()
        if current_app.config.get("STRIPE_SECRET_KEY"):
            payment_gateway().refund(order, amount, reason_key=str(order.refunded_cents + amount))
            flash(_("Refund sent to Stripe. The order changes when Stripe confirms it."), "success")
        else:
            payload = billing.demo_event("charge.refunded", order, utcnow(),
                                         amount_refunded=order.refunded_cents + amount)
            from app.billing import gateway

            process_webhook(payload.encode(), gateway.sign(payload, gateway.webhook_secret(current_app.config)))
            flash(_("Demo refund applied."), "success")
        return redirect(url_for("staff.show_order", reference=reference), code=303)
    if request.method == "GET":
        audit.record(current_user, "billing:order:view", utcnow(), target_user=buyer, target=order.reference,
                     ip=request.remote_addr)
        db.session.commit()
    return render_template("staff/order.html", order=order, buyer=buyer, form=form), 400 if form.errors else 200


@bp.route("/credits", methods=["GET", "POST"])
@staff("billing", "admin")
def adjust_credits():
    """Add or remove a customer's credits, with a mandatory reason (audited, in the ledger)."""
    from app.audit import services as audit
    from app.auth import services as auth_services
    from app.billing import services as billing
    from app.billing.forms import AdjustCreditsForm

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
                db.session.commit()
                flash(_("The balance of %(email)s is now %(balance)s credits.", email=user.email,
                        balance=user.credit_balance), "success")
                return redirect(url_for("staff.adjust_credits"), code=303)
    return render_template("staff/credits.html", form=form), 400 if form.errors else 200


# --- support inbox (support and admin roles) -----------------------------------------------------


def _staff_members():
    from app.auth.models import User, UserRole

    return db.session.scalars(select(User).join(UserRole).where(UserRole.role.in_(("support", "admin")))
                              .distinct().order_by(User.email)).all()


@bp.get("/messages")
@staff("support", "admin")
def list_messages():
    """The inbox: filter by status and topic, search by reference or e-mail."""
    from app.contact import services as contact
    from app.contact.models import STATUSES, TOPICS

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
    from app.audit import services as audit
    from app.contact import services as contact
    from app.contact.forms import AssignForm, StaffReplyForm
    from app.contact.models import ContactThread

    thread = db.session.scalar(select(ContactThread).where(ContactThread.reference == reference))
    if thread is None:
        abort(404)
    members = _staff_members()
    reply_form = StaffReplyForm()
    assign_form = AssignForm()
    assign_form.assignee.choices = [(0, _("nobody"))] + [(u.id, u.email) for u in members]
    now = utcnow()

    def audited(action, reason=None):
        audit.record(current_user, action, now, target_user=None, target=f"{thread.reference} <{thread.email}>",
                     reason=reason, ip=request.remote_addr)

    if request.method == "POST":
        action = request.form.get("action", "")
        if action in ("reply", "note") and reply_form.validate_on_submit():
            if action == "reply":
                contact.add_staff_reply(thread, current_user, reply_form.message.data, current_app.config, now)
            else:
                contact.add_note(thread, current_user, reply_form.message.data, now)
            audited(f"contact:thread:{action}")
        elif action == "assign" and assign_form.validate_on_submit():
            contact.assign(thread, assign_form.assignee.data, now)
            audited("contact:thread:assign", reason=str(assign_form.assignee.data or "nobody"))
        elif action in ("close", "reopen"):
            contact.set_status(thread, "closed" if action == "close" else "open", now)
            audited(f"contact:thread:{action}")
        else:
            status = 400 if (reply_form.errors or assign_form.errors or action not in
                             ("reply", "note", "assign", "close", "reopen")) else 200
            return render_template("staff/message.html", thread=thread, reply_form=reply_form,
                                   assign_form=assign_form, members=members), status
        db.session.commit()
        flash(_("Done."), "success")
        return redirect(url_for("staff.show_message", reference=reference), code=303)
    audited("contact:thread:view")
    db.session.commit()
    assign_form.assignee.data = thread.assignee_id or 0
    return render_template("staff/message.html", thread=thread, reply_form=reply_form, assign_form=assign_form,
                           members=members)


# --- rights requests (privacy and admin roles) ---------------------------------------------------------

REQUEST_FILTERS = ("overdue", "week", "mine", "unassigned")


@bp.get("/requests")
@staff("privacy", "admin")
def list_requests():
    """The rights-request queue, soonest due first; filters for overdue, this week, mine, unassigned."""
    from app.rights import requests as rights

    chosen = request.args.get("filter") if request.args.get("filter") in REQUEST_FILTERS else None
    today = utcnow().date()
    return render_template("staff/requests.html", rows=rights.queue(chosen, current_user.id, today),
                           chosen=chosen, filters=REQUEST_FILTERS, today=today)


@bp.route("/requests/<reference>", methods=["GET", "POST"])
@staff("privacy", "admin")
def show_request(reference: str):
    """One request: assign, note, start, extend, hold or release, complete, reject, flag a minor."""
    from app.auth.models import User
    from app.rights import requests as rights
    from app.rights.forms_requests import StaffRequestForm
    from app.rights.models import RightsRequest

    req = db.session.scalar(select(RightsRequest).where(RightsRequest.reference == reference))
    if req is None or req.status == "unconfirmed":
        abort(404)
    owner = db.session.get(User, req.user_id) if req.user_id else None
    form = StaffRequestForm()
    members = _privacy_staff()
    form.assignee.choices = [(0, _("nobody"))] + [(u.id, u.email) for u in members]
    now, ip = utcnow(), request.remote_addr
    if request.method == "POST" and form.validate_on_submit():
        action, note = request.form.get("action", ""), (form.note.data or "").strip()
        try:
            if action == "assign":
                rights.assign(req, current_user, form.assignee.data, now, ip)
            elif action == "note" and note:
                rights.add_note(req, current_user, note, now, ip)
            elif action == "start":
                rights.start(req, current_user, now, ip)
            elif action == "extend":
                rights.extend(req, current_user, form.months.data or 0, note, now.date(), now, ip)
            elif action == "complete":
                rights.complete(req, current_user, note, current_app.config, now, ip)
            elif action == "reject":
                rights.reject(req, current_user, note, now, ip)
            elif action == "hold" and owner is not None:
                if not current_user.has_role("privacy"):
                    abort(403)
                rights.place_hold(owner, current_user, note, form.hold_until.data or (now.date() + timedelta(days=90)),
                                  now, ip)
            elif action == "release" and owner is not None:
                hold = rights.active_hold(owner.id, now.date())
                if hold is None:
                    raise rights.TransitionRefused("There is no active hold.")
                rights.release_hold(hold, current_user, now, ip)
            elif action == "minor" and owner is not None:
                rights.flag_minor(owner, current_user, now, ip)
            else:
                raise rights.TransitionRefused("Choose an action (a note needs text).")
        except rights.TransitionRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return _render_request(req, owner, form, 400)
        db.session.commit()
        flash(_("Done."), "success")
        return redirect(url_for("staff.show_request", reference=reference), code=303)
    if request.method == "GET":
        rights._audit(current_user, req, "view", now, ip=ip)
        db.session.commit()
        form.assignee.data = req.assignee_id or 0
    return _render_request(req, owner, form, 400 if form.errors else 200)


def _privacy_staff():
    from app.auth.models import User, UserRole

    return db.session.scalars(select(User).join(UserRole).where(UserRole.role.in_(("privacy", "admin")))
                              .distinct().order_by(User.email)).all()


def _render_request(req, owner, form, status):
    from app.rights import requests as rights

    today = utcnow().date()
    return render_template("staff/request.html", req=req, owner=owner, form=form, today=today,
                           hold=rights.active_hold(owner.id, today) if owner else None), status
