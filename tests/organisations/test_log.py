"""The team audit log through the pages: what members do is listed with who did it, filtered,
paged and exported as CSV and JSON; the organisation's export holds it; an erased member is named
by a pseudonym; closing an organisation stops its keys and its erasure keeps what tax law keeps."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import timedelta

from sqlalchemy import func, select

from app.auth.models import User
from app.billing.models import CreditEntry
from app.billing.services import add_credits
from app.extensions import db
from app.keys.models import ApiKey
from app.organisations.models import Membership, Organisation, Role, TeamEvent
from app.rights import organisations as closing
from app.rights.services import close_account, erase_account
from app.timeutil import utcnow
from tests.fixtures.factories import ApiKeyFactory, UserFactory
from tests.fixtures.visitor import SAME_ORIGIN, AuthActions, bearer, form_token, submit


def _acme(app, client, outbox):
    AuthActions(client, outbox).register("alice@example.com", nickname="Alice")
    AuthActions(client, outbox).login("alice@example.com")
    submit(client, "/account/organisations", {"name": "Acme"})
    with app.app_context():
        team = db.session.scalar(select(Organisation).where(Organisation.name == "Acme"))
        dev = UserFactory(email="dev@example.com", nickname="Dev")
        db.session.add(Membership(organisation_id=team.id, user_id=dev.id, role=Role.DEVELOPER))
        db.session.commit()
        return team.id, dev.id


def _key_through_the_page(client, name):
    page = client.get("/account/keys").get_data(as_text=True)
    response = client.post("/account/keys", data={"csrf_token": form_token(page), "name": name},
                           headers=SAME_ORIGIN)
    if response.status_code == 303:  # asked to confirm the password first
        submit(client, response.headers["Location"], {"password": AuthActions.PASSWORD})
        response = client.post("/account/keys", data={"csrf_token": form_token(page), "name": name},
                               headers=SAME_ORIGIN)
    assert response.status_code == 200
    return re.search(r"(twt_[A-Za-z0-9_-]{43})", response.get_data(as_text=True)).group(1)


def test_members_actions_are_logged_with_their_author_filtered_and_exported(app, client, outbox):
    team_id, _dev_id = _acme(app, client, outbox)
    _key_through_the_page(client, "ingest")
    submit(client, "/account/team", {"email": "new@example.com", "role": "viewer"},
           action="/account/team/invitations")
    submit(client, "/account/billing", {"name": "Acme Ltd", "address": "1 Main St", "country": "DE",
                                        "tax_id": ""})
    page = client.get("/account/team/log").get_data(as_text=True)
    for text in ("created the organisation", "created a key", "ingest (twt_", "invited someone",
                 "new@example.com (viewer)", "changed the billing details", "Acme Ltd, DE"):
        assert text in page, text
    assert "Alice" in page
    keys_only = client.get("/account/team/log?group=key").get_data(as_text=True)
    assert "created a key" in keys_only and "invited someone" not in keys_only
    rows = list(csv.DictReader(io.StringIO(client.get("/account/team/log.csv").get_data(as_text=True))))
    assert [r["action"] for r in rows][:2] == ["organisation:create", "key:create"]
    assert rows[1]["actor"] == "Alice" and rows[1]["action_label"] == "created a key"
    entries = json.loads(client.get("/account/team/log.json?group=member").get_data(as_text=True))
    assert [e["action"] for e in entries] == ["member:invite"]
    bad = client.get("/account/team/log?since=1999-01-01")
    assert bad.status_code == 400 and "Choose a day from" in bad.get_data(as_text=True)


def test_the_log_pages_fifty_at_a_time(app, client, outbox):
    team_id, dev_id = _acme(app, client, outbox)
    with app.app_context():
        now = utcnow()
        db.session.add_all([TeamEvent(organisation_id=team_id, created_at=now + timedelta(seconds=i),
                                      actor_id=dev_id, by="member", action="key:revoke", target=f"k{i}")
                            for i in range(60)])
        db.session.commit()
    first = client.get("/account/team/log").get_data(as_text=True)
    assert "k59" in first and "k10" in first and "k9<" not in first
    older = re.search(r'href="(/account/team/log\?before=\d+)"', first).group(1)
    second = client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert "k9<" in second and "created the organisation" in second and "k59" not in second


def test_an_erased_member_is_named_by_a_pseudonym_in_the_log(app, client, outbox):
    team_id, dev_id = _acme(app, client, outbox)
    with app.app_context():
        dev = db.session.get(User, dev_id)
        ApiKeyFactory(user=dev, organisation=db.session.get(Organisation, team_id), name="dev key")
        close_account(dev, app.config, utcnow())
        erase_account(dev, app.config, utcnow(), notify=False)
        db.session.commit()
    page = client.get("/account/team/log").get_data(as_text=True)
    assert "created a key" in page and f"erased-user-{dev_id}" in page and "dev@example.com" not in page


def test_the_organisations_export_holds_its_records_and_its_log(app, client, outbox):
    team_id, _ = _acme(app, client, outbox)
    _key_through_the_page(client, "ingest")
    response = client.get("/account/organisation/export")
    if response.status_code == 303:
        submit(client, response.headers["Location"], {"password": AuthActions.PASSWORD})
        response = client.get("/account/organisation/export")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    organisation = json.loads(archive.read("organisation.json"))
    assert organisation["name"] == "Acme"
    assert {m["email"] for m in organisation["members"]} == {"alice@example.com", "dev@example.com"}
    assert "ingest" in archive.read("api_keys.csv").decode()
    log = json.loads(archive.read("team_log.json"))
    assert [e["action"] for e in log][:2] == ["organisation:create", "key:create"]
    assert log[-1]["action"] == "organisation:export"


def test_a_members_export_holds_their_organisations_and_what_they_did(app, client, outbox):
    _acme(app, client, outbox)
    _key_through_the_page(client, "ingest")
    response = client.get("/account/privacy/export")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    mine = json.loads(archive.read("organisations.json"))
    assert {m["organisation"] for m in mine["memberships"]} == {"Personal", "Acme"}
    assert {(a["organisation"], a["action"]) for a in mine["activity"]} >= {("Acme", "organisation:create"),
                                                                          ("Acme", "key:create")}
    assert "ingest" in archive.read("api_keys.csv").decode()  # a key they made in the team


def test_closing_an_organisation_stops_its_keys_and_its_erasure_keeps_the_ledger(app, client, outbox):
    team_id, _ = _acme(app, client, outbox)
    secret = _key_through_the_page(client, "ingest")
    with app.app_context():
        add_credits(db.session.get(Organisation, team_id), 50, "purchase", utcnow())
        db.session.commit()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    page = client.get("/account/organisation/settings").get_data(as_text=True)
    wrong = client.post("/account/organisation/close", data={"csrf_token": form_token(page), "confirm_name": "Acm"},
                        headers=SAME_ORIGIN)
    assert wrong.status_code == 400 and "That is not the organisation" in wrong.get_data(as_text=True)
    closed = client.post("/account/organisation/close", data={"csrf_token": form_token(page), "confirm_name": "Acme"},
                         headers=SAME_ORIGIN)
    assert closed.status_code == 303
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 401
    assert "Acme is closed" in next(m for m in reversed(outbox) if m["To"] == "dev@example.com")["Subject"]
    assert "Organisation: <strong>Personal</strong>" in client.get("/account").get_data(as_text=True)
    with app.app_context():
        later = utcnow() + timedelta(days=app.config["ACCOUNT_PURGE_DAYS"] + 1)
        assert closing.purge_closed_organisations(app.config, later) == 1
        team = db.session.get(Organisation, team_id)
        assert team.name is None and team.display_name == "Closed organisation"
        assert db.session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.organisation_id == team_id)) == 0
        assert db.session.scalar(select(func.count()).select_from(Membership)
                                 .where(Membership.organisation_id == team_id)) == 0
        assert db.session.scalar(select(func.count()).select_from(CreditEntry)
                                 .where(CreditEntry.organisation_id == team_id)) >= 2  # purchase and the call
        assert closing.purge_closed_organisations(app.config, later) == 0


def test_the_only_owner_of_a_team_cannot_close_their_account(app, client, outbox):
    _acme(app, client, outbox)
    page = client.get("/account/privacy").get_data(as_text=True)
    assert "You are the only owner of Acme" in page
    response = submit(client, "/account/privacy", {"confirm_email": "alice@example.com"},
                      action="/account/privacy/close")
    if response.status_code == 303 and "/reauth" in response.headers["Location"]:
        submit(client, response.headers["Location"], {"password": AuthActions.PASSWORD})
        response = submit(client, "/account/privacy", {"confirm_email": "alice@example.com"},
                          action="/account/privacy/close")
    assert response.status_code == 409
    assert "Make another member an owner on its Team page" in response.get_data(as_text=True)
