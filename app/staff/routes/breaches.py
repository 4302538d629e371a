"""Staff console: the personal-data breach register (privacy officers and admins)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.breaches import services as breaches
from app.breaches.forms import BreachDetailsForm, BreachStageForm, NotifyAuthorityForm, RecordBreachForm
from app.breaches.models import StageRefused
from app.labels import label
from app.security import staff
from app.staff.blueprint import bp
from app.staff.forms import StaffActionForm
from app.timeutil import utcnow

MISSING = {
    "nature": _l("the nature of the breach"), "data_categories": _l("the categories of personal data"),
    "people_affected": _l("the number of people affected"), "contact": _l("the contact point"),
    "consequences": _l("the likely consequences"), "measures": _l("the measures taken or proposed"),
    "sent_at": _l("a time of sending between awareness and now"),
    "delay_reason": _l("the reasons for notifying after 72 hours"),
}


@bp.route("/breaches", methods=["GET", "POST"])
@staff("privacy", "admin")
def list_breaches():
    """The register, newest first, with each breach's 72-hour clock; a form records a new one."""
    form = RecordBreachForm()
    if form.validate_on_submit():
        breach = breaches.record(form.title.data, form.aware_at.data, form.nature.data, current_user, utcnow(),
                                 request.remote_addr)
        flash(_("Breach %(reference)s is recorded. The 72 hours run from when we became aware of it.",
                reference=breach.reference), "success")
        return redirect(url_for("staff.show_breach", reference=breach.reference), code=303)
    now = utcnow()
    entries = [(b, breaches.clock(b, now)) for b in breaches.register_entries()]
    return render_template("staff/breaches.html", entries=entries, form=form), 400 if form.errors else 200


def _render(breach, status: int = 200, **forms):
    """One breach: its clock, its contents, the stage, the authority notification and the drafts."""
    forms.setdefault("details", BreachDetailsForm(obj=breach, formdata=None))
    forms.setdefault("stage_form", BreachStageForm(stage=breach.stage, formdata=None))
    forms.setdefault("notify_form", NotifyAuthorityForm(formdata=None))
    drafts = {locale: breaches.draft_notice(breach, locale) for locale in ("en", "zh_Hans")}
    return render_template("staff/breach.html", breach=breach, clock=breaches.clock(breach, utcnow()),
                           missing=[str(MISSING[m]) for m in breaches.missing_for_authority(breach)], drafts=drafts,
                           **forms), status


@bp.route("/breaches/<reference>", methods=["GET", "POST"])
@staff("privacy", "admin")
def show_breach(reference: str):
    """Fill in the Art. 33(3) contents, change the stage, or mark the authority notified."""
    breach = breaches.find(reference) or abort(404)
    if request.method == "GET":
        return _render(breach)
    action, now = StaffActionForm().action.data, utcnow()
    forms = {"details": BreachDetailsForm(), "stage_form": BreachStageForm(), "notify_form": NotifyAuthorityForm()}
    form = forms.get({"details": "details", "stage": "stage_form", "notify": "notify_form"}.get(action, ""))
    if form is None or not form.validate_on_submit():
        return _render(breach, 400, **({} if form is None else {k: v for k, v in forms.items() if v is form}))
    try:
        if action == "details":
            breaches.update(breach, breaches.details_from(form.data, breach), current_user, now, request.remote_addr)
        elif action == "stage":
            breaches.set_stage(breach, form.stage.data, current_user, now, request.remote_addr)
        else:
            breaches.notify_authority(breach, form.sent_at.data, form.authority_reference.data,
                                      form.delay_reason.data, current_user, now, request.remote_addr)
    except StageRefused as refused:
        form.form_errors.append(_("A breach that is %(current)s cannot move to %(target)s.",
                                  current=label("breach_stage", refused.current),
                                  target=label("breach_stage", refused.target)))
        return _render(breach, 409, **{k: v for k, v in forms.items() if v is form})
    except breaches.Refused as refused:
        form.form_errors.append(_("Not yet: the notification needs %(missing)s.",
                                  missing=", ".join(str(MISSING.get(m, m)) for m in refused.missing)))
        return _render(breaches.find(reference), 400, **{k: v for k, v in forms.items() if v is form})
    flash(_("Breach %(reference)s is updated.", reference=reference), "success")
    current_app.logger.info("privacy:breach:%s %s", action, reference)
    return redirect(url_for("staff.show_breach", reference=reference), code=303)
