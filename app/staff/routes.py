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
    recent = []
    if current_user.has_role("admin", "privacy"):
        recent = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(20)).all()
    return render_template("staff/dashboard.html", recent=recent)


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
