"""Staff console: the support inbox and one thread (support and admin roles)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.contact import services as contact
from app.contact.forms import AssignForm, StaffReplyForm
from app.contact.models import STATUSES, TOPICS, ContactTopic
from app.security import staff
from app.staff import services as staff_services
from app.staff.blueprint import bp
from app.staff.forms import StaffActionForm
from app.timeutil import utcnow


@bp.get("/messages")
@staff("support", "admin")
def list_messages():
    """The inbox: filter by status and topic, search by reference or e-mail."""
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    topic = ContactTopic(request.args["topic"]) if request.args.get("topic") in TOPICS else None
    query = (request.args.get("q") or "").strip()[:254] or None
    threads = contact.inbox(status, topic, query)
    if query:
        staff_services.record_inbox_search(current_user, threads, current_app.config, utcnow(), request.remote_addr)
    staff_by_id = {u.id: u for u in staff_services.members_with_roles("support", "admin")}
    return render_template("staff/messages.html", threads=threads, status=status, topic=topic, query=query or "",
                           statuses=STATUSES, topics=TOPICS, staff_by_id=staff_by_id)


DONE_THREAD_ACTIONS = {  # what the flash after each action says
    "reply": _l("Your reply to %(email)s is sent by e-mail and shown on their conversation page."),
    "note": _l("Your internal note is added to %(reference)s; the customer does not see it."),
    "assign": _l("The assignment of %(reference)s is saved."),
    "close": _l("%(reference)s is closed; a new message from the customer reopens it."),
    "reopen": _l("%(reference)s is open again."),
}


@bp.route("/messages/<reference>", methods=["GET", "POST"])
@staff("support", "admin")
def show_message(reference: str):
    """One thread: reply (e-mailed), internal note, assign, close or reopen. Everything audited."""
    thread = contact.find_thread(reference)
    if thread is None:
        abort(404)
    members = staff_services.members_with_roles("support", "admin")
    reply_form, assign_form = StaffReplyForm(), AssignForm()
    assign_form.assignee.choices = [(0, _("nobody"))] + [(u.id, u.email) for u in members]
    if request.method == "GET":
        contact.record_staff_view(thread, current_user, current_app.config, utcnow(), request.remote_addr)
        assign_form.assignee.data = thread.assignee_id or 0
        return render_template("staff/message.html", thread=thread, reply_form=reply_form,
                               assign_form=assign_form, members=members)
    action = StaffActionForm().action.data
    form = assign_form if action == "assign" else reply_form
    if action not in contact.STAFF_ACTIONS or (action in ("reply", "note", "assign") and not form.validate_on_submit()):
        status = 400 if (reply_form.errors or assign_form.errors or action not in contact.STAFF_ACTIONS) else 200
        return render_template("staff/message.html", thread=thread, reply_form=reply_form,
                               assign_form=assign_form, members=members), status
    contact.staff_action(thread, current_user, action, message=reply_form.message.data,
                         assignee=assign_form.assignee.data, config=current_app.config, now=utcnow(),
                         ip=request.remote_addr)
    flash(str(DONE_THREAD_ACTIONS[action]) % {"reference": reference, "email": thread.email}, "success")
    return redirect(url_for("staff.show_message", reference=reference), code=303)
