"""Which e-mails a person gets: the notifications page, and the one-click unsubscribe link that
optional mail carries (RFC 8058), which works without signing in."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import mail_preferences
from app.account import services
from app.account.blueprint import bp
from app.security import csrf_exempt, customer, public
from app.timeutil import utcnow


@bp.get("/account/notifications")
@customer
def show_notifications():
    """Every mail category with its state: the optional ones can be turned on and off; the
    required ones say why they cannot."""
    return render_template("account/notifications.html", categories=mail_preferences.CATEGORIES,
                           choices=mail_preferences.choices(current_user.id))


@bp.post("/account/notifications")
@customer
def save_notifications():
    """Save the optional categories ticked (the ones not ticked are turned off)."""
    services.save_choices(current_user, set(request.form.getlist("categories")), utcnow())
    flash(_("Your e-mail choices are saved."), "success")
    return redirect(url_for("account.show_notifications"), code=303)


@bp.route("/mail/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf_exempt  # a mail client posts here with no cookie and no form token (RFC 8058); the token is the proof
def unsubscribe_mail(token: str):
    """GET: a page with a button (mail scanners follow links, so a GET changes nothing). POST (the
    button, or a mail client's one-click POST): that mail category is turned off. Never a redirect:
    RFC 8058 says redirected POSTs do not work reliably."""
    secret = current_app.config["SECRET_KEY"]
    if request.method == "GET":
        link = services.read_link(secret, token)
        if link is None:
            return render_template("account/unsubscribe.html", invalid=True), 400
        return render_template("account/unsubscribe.html", category=mail_preferences.BY_NAME[link.category],
                               token=token)
    done = services.unsubscribe(secret, token, utcnow())
    if done is None:
        return render_template("account/unsubscribe.html", invalid=True), 400
    return render_template("account/unsubscribe.html", category=done.category, done=done)
