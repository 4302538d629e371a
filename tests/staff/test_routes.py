"""The staff shell: who gets in, and what staff pages promise."""

from datetime import timedelta

from sqlalchemy import select

from app.auth.models import UserSession
from app.extensions import db as _db
from tests.fixtures.visitor import AuthActions, turn_on_2fa

PASSWORD = "orange kettle under the stairs"


def make_staff(runner, email="staff@example.com", roles=("support",)):
    args = ["users", "create-staff", "--email", email]
    for role in roles:
        args += ["--role", role]
    result = runner.invoke(args=args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_customers_are_refused(client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    response = client.get("/staff/")
    assert response.status_code == 403
    assert "Access denied" in response.get_data(as_text=True)


def test_staff_without_2fa_are_told_how_to_turn_it_on(client, runner, outbox):
    make_staff(runner)
    AuthActions(client, outbox).login("staff@example.com", PASSWORD)
    response = client.get("/staff/")
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "Two-factor authentication required" in body
    assert 'href="/account/security/2fa"' in body


def test_staff_with_2fa_get_in_and_pages_are_not_cached(client, runner, outbox):
    make_staff(runner, roles=("admin",))
    AuthActions(client, outbox).login("staff@example.com", PASSWORD)
    turn_on_2fa(client)
    response = client.get("/staff/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert "Staff console" in body
    assert "Staff role granted" in body  # admins see the latest audit entries, by their label


def test_staff_sessions_idle_out_after_30_minutes_even_when_remembered(app, client, runner, outbox):
    make_staff(runner)
    AuthActions(client, outbox).login("staff@example.com", PASSWORD, remember=True)
    with app.app_context():
        row = _db.session.scalar(select(UserSession))
        row.last_seen_at -= timedelta(minutes=31)
        _db.session.commit()
    assert client.get("/account").status_code == 302


def test_admins_see_analytics_as_an_svg_chart_with_a_table(app, client, runner, outbox):
    from app.consent import services as consent_services
    from app.timeutil import utcnow

    with app.app_context():
        consent_services.count_page_view("/pricing", "v1", utcnow().date())
        _db.session.commit()
    make_staff(runner, roles=("admin",))
    AuthActions(client, outbox).login("staff@example.com", PASSWORD)
    turn_on_2fa(client)
    body = client.get("/staff/analytics?days=7").get_data(as_text=True)
    assert '<svg role="img"' in body and "<rect" in body
    assert "<table class=\"stack\">" in body and "/pricing" in body


def test_other_staff_roles_cannot_open_analytics(client, runner, outbox):
    make_staff(runner, roles=("support",))
    AuthActions(client, outbox).login("staff@example.com", PASSWORD)
    turn_on_2fa(client)
    assert client.get("/staff/analytics").status_code == 403
