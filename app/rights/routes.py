"""The privacy centre on /account/privacy."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from itsdangerous import BadData, URLSafeTimedSerializer

from app import throttle
from app.audit import access
from app.auth import services as auth_services
from app.auth.guards import recent_auth_required, take_pending_form
from app.consent import pipl
from app.consent import services as consent_services
from app.consent.models import SeparateConsentKind
from app.extensions import db
from app.rights import export, services, workflow
from app.rights.forms import CloseAccountForm, CodeForm, RequestForm
from app.rights.models import RequestStatus, RequestType, RightsRequest
from app.security import customer, public
from app.timeutil import utcnow
from app.uow import keep_on_error

bp = Blueprint("rights", __name__)


@bp.get("/account/privacy")
@customer
def show_privacy():
    """Export, consent history and account closure in one place (with what was typed into the
    closure form when it had to ask for the password first)."""
    typed = take_pending_form("rights.close_account")
    form = CloseAccountForm(formdata=None, data={"confirm_email": (typed or {}).get("confirm_email", "")})
    return render_template("rights/privacy.html", form=form, closing=typed is not None,
                           consents=consent_services.history(None, current_user.id),
                           requests=workflow.requests_of(current_user.id),
                           accesses=access.accesses_of(current_user),
                           separate_consents=pipl.consents_of(current_user.id),
                           transfer=pipl.transfer_facts(current_app.config)
                           if pipl.needs_transfer_consent(current_user, str(get_locale())) else None)


@bp.post("/account/privacy/transfer-consent")
@customer
def give_transfer_consent():
    """The separate consent to the transfer abroad, for an account made before sign-up asked it."""
    if request.form.get("transfer_consent") != "y":
        flash(_("Tick the box to give your consent; without it we cannot keep your account."), "warning")
    elif pipl.needs_transfer_consent(current_user, str(get_locale())):
        pipl.record(current_user.id, [SeparateConsentKind.CROSS_BORDER], str(get_locale()), current_app.config,
                    utcnow())
        flash(_("Thank you: your separate consent is recorded."), "success")
    return redirect(url_for("rights.show_privacy", _anchor="separate-title"), code=303)


@bp.get("/account/privacy/export")
@customer
@recent_auth_required
def download_export():
    """Everything we hold about the account, as a ZIP streamed to the browser."""
    now = utcnow()
    services.record_export(current_user, now, request.remote_addr)
    user, config, locale = current_user._get_current_object(), current_app.config, str(get_locale())
    body = stream_with_context(export.export_zip(user, config, locale, now))
    return Response(body, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="twtapi-export-{now:%Y%m%d}.zip"',
        "Cache-Control": "no-store"})


@bp.post("/account/privacy/close")
@customer
@recent_auth_required
def close_account():
    """Close the account (typing the e-mail address confirms it); sign-in within the grace period reopens it."""
    form = CloseAccountForm()
    if not form.validate_on_submit() or form.confirm_email.data.lower() != current_user.email:
        if form.confirm_email.data:
            form.confirm_email.errors.append(_("That is not your account's e-mail address."))
        return render_template("rights/privacy.html", form=form,
                               consents=consent_services.history(None, current_user.id),
                               requests=workflow.requests_of(current_user.id)), 400
    try:
        services.close_account(current_user, current_app.config, utcnow())
    except services.OwnsTeams as refused:
        form.confirm_email.errors.append(_(
            "You are the only owner of %(names)s. Make another member an owner on its Team page, or close the "
            "organisation, before you close your account.", names=str(refused)))
        return render_template("rights/privacy.html", form=form,
                               consents=consent_services.history(None, current_user.id),
                               requests=workflow.requests_of(current_user.id)), 409
    logout_user()
    session.clear()
    flash(_("Your account is closed. Sign in within %(days)s days to reopen it; after %(purge)s days it is erased.",
            days=current_app.config["ACCOUNT_GRACE_DAYS"], purge=current_app.config["ACCOUNT_PURGE_DAYS"]), "info")
    return redirect(url_for("pages.show_home"), code=303)


# --- rights requests (public form, confirmation, status) -------------------------------------------------


def _request_throttled(email: str) -> bool:
    cfg = current_app.config
    checks = ((cfg["RIGHTS_RATE_LIMIT_IP"], throttle.throttle_key("rights-ip", request.remote_addr or "-")),
              (cfg["RIGHTS_RATE_LIMIT_ADDRESS"], workflow.address_limit_key(email)))
    if any(not throttle.check(limit, key).allowed for limit, key in checks):
        return True
    for limit, key in checks:
        throttle.hit(limit, key)
    return False


def _confirm_serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="rights-confirm")


@bp.route("/privacy/request", methods=["GET", "POST"])
@public
def file_request():
    """Exercise a right, signed in or not. The answer is the same whether or not the address has an account."""
    form = RequestForm()
    if request.method == "GET" and current_user.is_authenticated:
        form.email.data = current_user.email
    if form.validate_on_submit():
        signed_in = current_user.is_authenticated
        if signed_in and not auth_services.recently_authenticated(g.get("user_session"), current_app.config,
                                                                  utcnow()):
            flash(_("Please confirm it is you to continue."), "info")
            return redirect(url_for("auth.reauthenticate", next=url_for("rights.file_request")), code=303)
        email = current_user.email if signed_in else form.email.data
        if _request_throttled(email):
            return render_template("rights/request_form.html", form=form, throttled=True), 429
        req, _code = workflow.file_request(RequestType(form.type.data), email, form.details.data,
                                           current_user._get_current_object() if signed_in else None,
                                           str(get_locale()), utcnow(), guardian=bool(form.guardian.data))
        if req.status != RequestStatus.UNCONFIRMED:
            return render_template("rights/request_filed.html", req=req)
        code_form = CodeForm(data={"token": _confirm_serializer().dumps(req.id)})
        return render_template("rights/request_code.html", form=code_form)
    return render_template("rights/request_form.html", form=form)


@bp.post("/privacy/request/confirm")
@public
def confirm_request():
    """Confirm the address with the e-mailed code (10 minutes, 5 attempts)."""
    form = CodeForm()
    try:
        request_id = _confirm_serializer().loads(form.token.data or "", max_age=3600)
    except BadData:
        abort(400)
    req = db.session.get(RightsRequest, request_id)
    if req is None or not form.validate_on_submit():
        abort(400)
    if workflow.check_code(req, form.code.data, utcnow()):
        return render_template("rights/request_filed.html", req=req)
    keep_on_error()  # the attempt counts, with the 400 it answers
    form.code.errors.append(_("That code is not right or has expired. Check the latest e-mail, or file the "
                              "request again."))
    return render_template("rights/request_code.html", form=form), 400


@bp.get("/privacy/request/status/<token>")
@public
def show_request_status(token: str):
    """A request's status and history, from the signed link in our e-mails."""
    req = workflow.request_from_token(token, current_app.config["SECRET_KEY"],
                                      current_app.config["RIGHTS_STATUS_LINK_DAYS"])
    if req is None:
        abort(404)
    return render_template("rights/request_status.html", req=req)
