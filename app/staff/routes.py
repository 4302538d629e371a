"""Staff console views. The blueprint guards itself: see ``require_staff``."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_currency
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app import charts
from app.audit.models import AuditEntry
from app.consent import services as consent_services
from app.database import form_id
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
    return render_template("staff/dashboard.html", recent=recent, inbox=counts, **_dashboard_counts())


def _dashboard_counts() -> dict:
    from sqlalchemy import func

    from app.billing.models import Order, WebhookEvent
    from app.email import OutboxMessage
    from app.rights import requests as rights

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
    from app.billing import webhooks
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
        if request.form.get("confirmed") != "yes":
            price = format_currency(amount / 100, order.currency)
            return render_template(
                "staff/confirm.html", title=_("Refund %(amount)s?", amount=price), button=_("Refund"),
                consequence=_("The money goes back to the buyer's card and the credits it bought are taken back, "
                              "as far as they are unused. This cannot be undone."),
                action_url=url_for("staff.show_order", reference=reference), fields=request.form,
                cancel_url=url_for("staff.show_order", reference=reference))
        audit.record(current_user, "billing:order:refund", utcnow(), target_user=buyer,
                     target=order.reference, reason=f"{amount} cents: {form.reason.data}", ip=request.remote_addr)
        db.session.commit()
        if payment_gateway().name == "stripe":
            payment_gateway().refund(order, amount, reason_key=str(order.refunded_cents + amount))
            flash(_("Refund sent to Stripe. The order changes when Stripe confirms it."), "success")
        else:
            payload = webhooks.demo_event("charge.refunded", order, utcnow(),
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
                from app.staff.services import notify

                notify(user, "credits", current_app.config)
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
        audit.record(current_user, action, now, target_user=None, target=thread.reference,
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
                if req.type == "erasure" and request.form.get("confirmed") != "yes":
                    # A destructive action asks once more, naming what it erases (no JavaScript needed).
                    return _render_request(req, owner, form, 200, confirm="complete")
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
                if request.form.get("confirmed") != "yes":
                    return _render_request(req, owner, form, 200, confirm="minor")
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


def _render_request(req, owner, form, status, confirm: str | None = None):
    from app.rights import inventory
    from app.rights import requests as rights

    today = utcnow().date()
    open_request = req.status not in ("completed", "rejected", "expired")
    holdings = inventory.holdings(req.email, current_app.config) \
        if open_request and req.type in ("erasure", "access") else None
    return render_template("staff/request.html", req=req, owner=owner, form=form, today=today,
                           hold=rights.active_hold(owner.id, today) if owner else None, holdings=holdings,
                           confirm=confirm), status


# --- customers (all staff roles; actions by role) ---------------------------------------------------------


@bp.get("/users")
@staff()
def find_users():
    """Search customers by e-mail, an order, support or request reference, or a key prefix. For
    an address, privacy staff also see everything held about it, account or not (audited)."""
    from app.audit import services as audit
    from app.rights import inventory
    from app.staff import services as staff_services

    query = (request.args.get("q") or "").strip()[:254]
    holdings = None
    if "@" in query and current_user.has_role("privacy", "admin"):
        holdings = inventory.holdings(query, current_app.config)
        audit.record(current_user, "privacy:person:lookup", utcnow(), target="address lookup",
                     ip=request.remote_addr)
        db.session.commit()
    return render_template("staff/users.html", query=query, users=staff_services.find_customers(query),
                           holdings=holdings)


VIEW_GRANT_SECONDS = 600  # a record opened with a reason stays open this long (then ask again)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@staff()
def show_user(user_id: int):
    """A customer's record. Opening it needs a reason, posted (never in the URL, so never in
    history or logs) and written to the audit log; every display of the record is audited."""
    from app.audit import services as audit
    from app.auth.models import User

    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    grants = session.get("staff_record_views", {})
    if request.method == "POST":
        reason = (request.form.get("reason") or "").strip()[:300]
        if not reason:
            return render_template("staff/user_reason.html", user_id=user_id), 400
        entry = audit.record(current_user, "staff:user:view", utcnow(), target_user=user, reason=reason,
                             ip=request.remote_addr)
        db.session.commit()
        recent = sorted(grants.items(), key=lambda item: item[1][1])[-19:]
        session["staff_record_views"] = {**dict(recent), str(user_id): [entry.id, time.time()]}
        return redirect(url_for("staff.show_user", user_id=user_id), code=303)
    grant = grants.get(str(user_id))
    opened = db.session.get(AuditEntry, grant[0]) if grant and time.time() - grant[1] < VIEW_GRANT_SECONDS else None
    if opened is None or opened.actor_id != current_user.id:
        return render_template("staff/user_reason.html", user_id=user_id)
    audit.record(current_user, "staff:user:view", utcnow(), target_user=user, reason=opened.reason,
                 ip=request.remote_addr)
    db.session.commit()
    return render_template("staff/user.html", user=user, reason=opened.reason, **_customer_record(user))


def _customer_record(user) -> dict:
    from app.auth import services as auth_services
    from app.billing import services as billing
    from app.consent import services as consent_services
    from app.contact import services as contact_services
    from app.keys import services as key_services
    from app.rights import requests as rights
    from app.usage import services as usage_services

    today = utcnow().date()
    show_ips = current_user.has_role("admin", "privacy")
    return {
        "keys": key_services.all_keys(user), "now": utcnow(), "ledger": billing.ledger(user.id, limit=50),
        "month": usage_services.month_totals(user.id, today), "orders": billing.orders_of(user.id),
        "threads": contact_services.threads_of(user.id), "requests": rights.requests_of(user.id),
        "consents": consent_services.history(None, user.id),
        "sessions": auth_services.active_sessions(user) if show_ips else None,
        "hold": rights.active_hold(user.id, today),
    }


# Destructive account actions ask once more, on a page of their own (no JavaScript needed).
CONFIRM_USER_ACTIONS = {
    "suspend": (_l("Suspend this account?"), _l("The customer can no longer sign in and every API key stops until "
                                                 "the account is unsuspended. The customer is told by e-mail."),
                _l("Suspend")),
    "end-sessions": (_l("End every session?"), _l("The customer is signed out on every device."), _l("End sessions")),
    "revoke-key": (_l("Revoke this API key?"), _l("Calls with this key fail from the next request; this cannot be "
                                                  "undone."), _l("Revoke")),
    "minor": (_l("Flag this account as a minor’s?"), _l("The account stops at once (no sign-in, no API key) and an "
                                                         "erasure due in 7 days is opened."), _l("Flag as a minor’s")),
}


@bp.post("/users/<int:user_id>/action")
@staff()
def act_on_user(user_id: int):
    """Account actions; each needs the role it belongs to, is audited, and tells the customer."""
    from app.auth.models import User
    from app.staff import services as staff_services

    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    action = request.form.get("action", "")
    reason = (request.form.get("reason") or "").strip()[:300]
    if not reason:
        flash(_("Give a reason: it goes into the audit log."), "error")
        return redirect(url_for("staff.show_user", user_id=user_id), code=303)
    cfg, now, ip = current_app.config, utcnow(), request.remote_addr
    allowed = {"suspend": ("admin", "support"), "unsuspend": ("admin", "support"), "end-sessions": ("admin",
               "support"), "revoke-key": ("admin", "support"), "resend-verification": ("admin", "support"),
               "minor": ("admin", "privacy"), "hold": ("privacy",)}
    if action not in allowed:
        abort(400)
    if not current_user.has_role(*allowed[action]):
        abort(403)
    if action in CONFIRM_USER_ACTIONS and request.form.get("confirmed") != "yes":
        title, consequence, button = CONFIRM_USER_ACTIONS[action]
        return render_template("staff/confirm.html", title=title, consequence=consequence, button=button,
                               action_url=url_for("staff.act_on_user", user_id=user_id), fields=request.form,
                               cancel_url=url_for("staff.show_user", user_id=user_id))
    if action == "suspend":
        staff_services.suspend(user, current_user, reason, cfg, now, ip)
    elif action == "unsuspend":
        staff_services.unsuspend(user, current_user, reason, cfg, now, ip)
    elif action == "end-sessions":
        staff_services.end_all_sessions(user, current_user, reason, cfg, now, ip)
    elif action == "revoke-key":
        from app.keys.services import KeyNotFound

        try:
            staff_services.revoke_key(user, form_id(request.form.get("key_id")) or 0, current_user, reason, cfg,
                                      now, ip)
        except KeyNotFound:
            abort(404)
    elif action == "minor":
        from app.rights import requests as rights

        rights.flag_minor(user, current_user, now, ip)
    elif action == "hold":
        from app.rights import requests as rights

        rights.place_hold(user, current_user, reason, now.date() + timedelta(days=90), now, ip)
    else:
        staff_services.resend_verification(user, current_user, reason, cfg, now, ip)
    db.session.commit()
    flash(_("Done."), "success")
    return redirect(url_for("staff.show_user", user_id=user_id), code=303)


# --- the audit log (admin and privacy roles) -----------------------------------------------------------------


def _audit_filters():
    from datetime import date as date_type

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
    from app.staff import services as staff_services

    filters = _audit_filters()
    entries = db.session.scalars(staff_services.audit_query(*filters).limit(500)).all()
    return render_template("staff/audit.html", entries=entries, args=request.args)


@bp.get("/audit.csv")
@staff("admin", "privacy")
def download_audit():
    from flask import Response, stream_with_context

    from app.staff import services as staff_services

    lines = staff_services.audit_csv(staff_services.audit_query(*_audit_filters()))
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


# --- the team (admin) -----------------------------------------------------------------------------------------


@bp.route("/team", methods=["GET", "POST"])
@staff("admin")
def manage_team():
    """Invite staff, change their roles, remove them (never the last admin)."""
    from app.auth import services as auth_services
    from app.auth.models import STAFF_ROLES, User
    from app.staff import services as staff_services

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
        except (staff_services.LastAdmin, auth_services.InvalidEmail, auth_services.UnknownRole, ValueError) as exc:
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
    from app.legal import services as legal

    return render_template("staff/policies.html", stats=legal.notice_stats())
