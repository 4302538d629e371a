"""The contact form and the sender's side of support threads."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadData, URLSafeTimedSerializer

from app import throttle
from app.addresses import canonical_email
from app.contact import services
from app.contact.forms import ContactForm, ReplyForm
from app.contact.models import ContactTopic
from app.security import customer, public
from app.timeutil import utcnow

bp = Blueprint("contact", __name__)


def _throttled(email: str) -> throttle.Verdict | None:
    cfg = current_app.config
    checks = ((cfg["CONTACT_RATE_LIMIT_IP"], throttle.throttle_key("contact-ip", request.remote_addr or "-")),
              (cfg["CONTACT_RATE_LIMIT_ADDRESS"], throttle.throttle_key("contact-address", canonical_email(email))))
    for limit, key in checks:
        verdict = throttle.check(limit, key)
        if not verdict.allowed:
            return verdict
    for limit, key in checks:
        throttle.hit(limit, key)
    return None


@bp.route("/contact", methods=["GET", "POST"])
@public
def contact():
    """Write to us. Signed-in customers find their name and address filled in."""
    form = ContactForm()
    if request.method == "GET" and current_user.is_authenticated:
        form.name.data = current_user.nickname or ""
        form.email.data = current_user.email
    if form.validate_on_submit():
        if form.website.data:  # the honeypot: answer like a success, keep nothing
            current_app.logger.info("contact:honeypot")
            return redirect(url_for("contact.show_sent", token=_sent_token(None, form.subject.data)), code=303)
        verdict = _throttled(form.email.data)
        if verdict is not None:
            minutes = max(1, round(verdict.retry_after / 60))
            return render_template("contact/form.html", form=form, throttled_minutes=minutes), 429
        thread = services.create_thread(
            form.name.data, form.email.data, ContactTopic(form.subject.data), form.message.data,
            current_user.id if current_user.is_authenticated else None, request.remote_addr, str(get_locale()),
            current_app.config, utcnow())
        # Post/redirect/get: reloading the confirmation never sends the message again. The
        # confirmation's address carries a signed, short-lived token: no cookie is needed.
        return redirect(url_for("contact.show_sent", token=_sent_token(thread.reference, thread.topic)), code=303)
    return render_template("contact/form.html", form=form)


def _sent_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="contact-sent")


def _sent_token(reference: str | None, topic: str) -> str:
    return _sent_serializer().dumps([reference, topic])


@bp.get("/contact/sent/<token>")
@public
def show_sent(token: str):
    """The confirmation of the message just sent, with its reference (for an hour; then the form)."""
    try:
        reference, topic = _sent_serializer().loads(token, max_age=3600)
    except (BadData, ValueError, TypeError):
        return redirect(url_for("contact.contact"))
    return render_template("contact/sent.html", reference=reference, topic=topic)


@bp.get("/account/support")
@customer
def list_my_threads():
    """The signed-in customer's support threads."""
    return render_template("contact/my_threads.html", threads=services.threads_of(current_user.id))


def _thread_page(thread, form, action_url):
    return render_template("contact/thread.html", thread=thread, messages=services.visible_messages(thread),
                           form=form, action_url=action_url)


@bp.route("/account/support/<reference>", methods=["GET", "POST"])
@customer
def show_my_thread(reference: str):
    """One of the customer's threads, with a reply form (another customer's reference: 404)."""
    thread = services.find_thread(reference, user_id=current_user.id)
    if thread is None:
        abort(404)
    return _reply(thread, url_for("contact.show_my_thread", reference=reference))


@bp.route("/contact/thread/<token>", methods=["GET", "POST"])
@public
def show_linked_thread(token: str):
    """A thread opened from the signed link in our e-mail: no account needed."""
    cfg = current_app.config
    thread = services.thread_from_token(token, cfg["SECRET_KEY"], cfg["CONTACT_LINK_DAYS"])
    if thread is None:
        abort(404)
    return _reply(thread, url_for("contact.show_linked_thread", token=token))


def _reply(thread, action_url):
    form = ReplyForm()
    if form.validate_on_submit():
        services.add_customer_reply(thread, form.message.data, utcnow())
        flash(_("Your reply is sent. We answer by e-mail and here."), "success")
        return redirect(action_url, code=303)
    return _thread_page(thread, form, action_url), 400 if form.errors else 200
