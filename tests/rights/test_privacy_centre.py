"""The privacy centre: export, closure with a grace period, erasure, and the proof of erasure."""

import csv
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from app import retention
from app.auth.models import User, UserSession
from app.billing.models import CreditEntry, Order
from app.extensions import db as _db
from app.rights import services
from app.timeutil import utcnow
from app.usage.models import UsageDaily
from tests.fixtures.visitor import AuthActions, bearer, link_in, submit
from tests.sweep import traces

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "erin.unique-tester@example.com"
NICK = "Zanzibarette"


def _customer(client, outbox, email=EMAIL, nickname=NICK):
    auth = AuthActions(client, outbox)
    auth.register(email, nickname=nickname)
    auth.login(email, environ_base={"REMOTE_ADDR": "203.0.113.55"})
    return auth


def _export(client) -> zipfile.ZipFile:
    response = client.get("/account/privacy/export")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.is_streamed
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def _use_every_feature(app, client, outbox):
    """Keys and calls, a purchase, a cookie choice, a support message: the data an export must hold."""
    import re

    created = submit(client, "/account/keys", {"name": "export test"})
    secret = re.search(r'value="(twt_[^"]+)"', created.get_data(as_text=True)).group(1)
    for _ in range(3):
        client.get("/api/v1/users/jack", headers=bearer(secret), environ_base={"REMOTE_ADDR": "203.0.113.55"})
    demo = submit(client, "/account", {"pack": "starter"}, action="/billing/checkout").headers["Location"]
    submit(client, demo, {"choice": "pay"})
    client.post("/consent", data={"action": "accept_all", "next": "/"}, headers={"Origin": "http://localhost"})
    submit(client, "/contact", {"name": NICK, "email": EMAIL, "subject": "technical",
                                "message": "Please tell me about limits, Zanzibarette here."},
           environ_base={"REMOTE_ADDR": "203.0.113.55"})
    return secret


def test_export_holds_every_part_in_readable_files(app, client, outbox):
    _customer(client, outbox)
    _use_every_feature(app, client, outbox)
    archive = _export(client)
    names = set(archive.namelist())
    assert {"data.json", "README.html", "profile.csv", "sessions.csv", "security_events.csv", "api_keys.csv",
            "usage_daily.csv", "api_calls.csv", "credit_ledger.csv", "orders.csv", "consent_records.csv",
            "support_threads.json"} <= names
    data = json.loads(archive.read("data.json"))
    assert data["schema_version"] == 1 and data["profile"]["email"] == EMAIL
    calls = list(csv.DictReader(io.StringIO(archive.read("api_calls.csv").decode())))
    assert len(calls) == 3 and calls[0]["endpoint"] == "/api/v1/users/{username}"
    keys = archive.read("api_keys.csv").decode()
    assert "twt_" in keys and "secret" not in keys.lower()
    assert "paid" in archive.read("orders.csv").decode()
    assert "limits" in archive.read("support_threads.json").decode()
    readme = archive.read("README.html").decode()
    assert "supervisory authority" in readme


def test_export_never_holds_another_users_data(app, client, outbox):
    other = app.test_client()
    _customer(other, outbox, "someone.else@example.com", "Otherperson")
    _use_every_feature(app, other, outbox)
    _customer(client, outbox)
    archive = _export(client)
    everything = b"".join(archive.read(n) for n in archive.namelist()).decode()
    assert "someone.else@example.com" not in everything and "Otherperson" not in everything


def test_export_needs_a_recent_password_and_is_audited(app, client, outbox):
    from app.audit.models import AuditEntry

    _customer(client, outbox)
    _export(client)
    with app.app_context():
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "privacy:export"))
        assert entry is not None and entry.reason is None
        row = _db.session.scalar(select(UserSession))
        row.reauthenticated_at -= timedelta(minutes=6)
        _db.session.commit()
    assert client.get("/account/privacy/export").headers["Location"].startswith("/reauth")


def test_closing_needs_the_typed_address_then_ends_sessions_and_keys(app, client, outbox):
    _customer(client, outbox)
    secret = _use_every_feature(app, client, outbox)
    wrong = submit(client, "/account/privacy", {"confirm_email": "nope@example.com"}, action="/account/privacy/close")
    assert wrong.status_code == 400
    other_device = app.test_client()
    AuthActions(other_device, outbox).login(EMAIL)
    closed = submit(client, "/account/privacy", {"confirm_email": EMAIL.upper()}, action="/account/privacy/close")
    assert closed.status_code == 303
    assert other_device.get("/account").status_code == 302  # old sessions rejected
    assert client.get("/api/v1/account", headers=bearer(secret)).status_code == 401  # keys too
    assert any("is closed" in m["Subject"] for m in outbox)


def test_signing_in_within_the_grace_period_reopens_the_account(app, client, outbox):
    auth = _customer(client, outbox)
    submit(client, "/account/privacy", {"confirm_email": EMAIL}, action="/account/privacy/close")
    response = auth.login(EMAIL)
    assert response.status_code == 303
    client.get(response.headers["Location"])
    assert "open again" in client.get("/account").get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(User.closed_at).where(User.email == EMAIL)) is None


def test_closing_in_one_pass_through_reauthentication_keeps_what_was_typed(app, client, outbox):
    _customer(client, outbox)
    with app.app_context():  # the sign-in was long ago: closing asks for the password again
        _db.session.execute(UserSession.__table__.update().values(reauthenticated_at=utcnow() - timedelta(hours=1)))
        _db.session.commit()
    page = client.get("/account/privacy").get_data(as_text=True)
    assert "still holds 100 credits" in page and "not paid out" in page
    asked = submit(client, "/account/privacy", {"confirm_email": EMAIL}, action="/account/privacy/close",
                   headers={"Referer": "http://localhost/account/privacy"})
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/reauth")
    reauth = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "To close your account, confirm it is you." in reauth
    assert "changes how your account is protected" not in reauth
    back = submit(client, asked.headers["Location"], {"password": AuthActions.PASSWORD})
    assert back.headers["Location"] == "/account/privacy"
    again = client.get("/account/privacy").get_data(as_text=True)
    assert f'value="{EMAIL}"' in again and "send the form again" in again
    closed = submit(client, "/account/privacy", {"confirm_email": EMAIL}, action="/account/privacy/close")
    assert closed.status_code == 303


def test_reopening_through_the_second_factor_says_what_came_back(app, client, outbox):
    from tests.fixtures.visitor import totp_now, turn_on_2fa

    auth = _customer(client, outbox)
    secret, _codes = turn_on_2fa(client)
    submit(client, "/account/privacy", {"confirm_email": EMAIL}, action="/account/privacy/close")
    assert auth.login(EMAIL).headers["Location"].endswith("/login/2fa")
    done = submit(client, "/login/2fa", {"code": totp_now(secret, 1)})
    assert done.status_code == 303
    page = client.get("/account").get_data(as_text=True)
    assert "open again" in page and "stay revoked" in page


def test_after_the_grace_period_sign_in_is_refused(app, client, outbox):
    auth = _customer(client, outbox)
    submit(client, "/account/privacy", {"confirm_email": EMAIL}, action="/account/privacy/close")
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == EMAIL))
        user.closed_at -= timedelta(days=15)
        _db.session.commit()
    response = auth.login(EMAIL)
    assert response.status_code == 200
    assert "being erased" in response.get_data(as_text=True)


def test_dry_run_changes_nothing(app, client, outbox, runner):
    _customer(client, outbox)
    submit(client, "/account/privacy", {"confirm_email": EMAIL}, action="/account/privacy/close")
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == EMAIL))
        user.closed_at -= timedelta(days=31)
        _db.session.commit()
    result = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert "would erase 1" in result.output
    with app.app_context():
        assert _db.session.scalar(select(User).where(User.email == EMAIL)) is not None


def test_erasure_leaves_no_trace_outside_pseudonymised_orders(app, client, outbox, runner):
    """Proof of erasure: a customer who used every feature, erased, then a sweep of every text column."""
    _customer(client, outbox)
    _use_every_feature(app, client, outbox)
    submit(client, "/account/privacy", {"confirm_email": EMAIL}, action="/account/privacy/close")
    with app.app_context():
        user_id = _db.session.scalar(select(User.id).where(User.email == EMAIL))
        _db.session.get(User, user_id).closed_at -= timedelta(days=31)
        _db.session.commit()
    outbox.clear()
    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "erased 1" in result.output
    final = outbox[-1]
    assert final["To"] == EMAIL and "erased" in final["Subject"]
    assert "orders" in final.get_body(("plain",)).get_content()

    left = traces(app, [EMAIL, NICK, "203.0.113.55", "203.0.113.0"])
    with app.app_context():
        # Kept, pseudonymised: orders, the ledger and daily totals, linked to the anonymised row.
        user = _db.session.get(User, user_id)
        assert user.email.endswith("@erased.invalid") and user.nickname is None and user.erased_at
        assert _db.session.scalar(select(Order.status)) == "paid"
        assert _db.session.scalars(select(CreditEntry)).all()
        assert _db.session.scalars(select(UsageDaily)).all()
    assert left == []

    again = AuthActions(client, outbox)
    again.register(EMAIL, nickname="Newcomer")  # the address is free again
    with app.app_context():
        assert _db.session.scalar(select(User).where(User.email == EMAIL)).nickname == "Newcomer"


def test_the_erasure_email_is_listed_in_what_the_purge_reports(app, client, outbox):
    _customer(client, outbox)
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == EMAIL))
        report = services.erase_account(user, app.config, utcnow())["report"]
        _db.session.rollback()
    assert set(map(str, report["deleted"])) >= {"sign-in sessions", "API keys", "support conversations"}


def test_docs_retention_md_matches_the_registry(app):
    assert (ROOT / "docs/retention.md").read_text(encoding="utf-8") == retention.markdown(app.config)


def test_privacy_page_in_both_languages(client, outbox):
    _customer(client, outbox)
    assert "Download my data" in client.get("/account/privacy").get_data(as_text=True)
    client.get("/language/zh_Hans?next=/")
    assert "隐私中心" in client.get("/account/privacy").get_data(as_text=True)


def test_verification_links_in_old_mail_do_not_resurrect_anything(app, client, outbox):
    _customer(client, outbox)
    link = link_in(next(m for m in outbox if "/verify-email/" in m.get_body(("plain",)).get_content()),
                   "/verify-email/")
    assert client.get(link).status_code == 400  # used once already
