"""A team organisation's usage and overview as each of its members sees them: the calls of one
member's key are on the usage page, in the call log and in both CSVs of every member (whatever
their role), never in anyone's personal organisation; the overview shows the team's balance, keys
and month, and offers buying credits and making a key only to the roles that may."""

import csv
import io
import re

import pytest

from app.organisations.models import Role
from tests.fixtures.visitor import AuthActions, bearer
from tests.metering.teams import make_team, signed_in_member

ROLES = (Role.OWNER, Role.DEVELOPER, Role.BILLING, Role.VIEWER)
OWNER, DEVELOPER, BILLING, VIEWER = range(4)


def section(page: str, heading_id: str) -> str:
    """The part of ``page`` from the heading with ``heading_id`` to the end of its section."""
    return page.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0]


def test_a_members_calls_are_in_the_organisations_usage_for_every_member(app, outbox):
    team = make_team(app, credits=100, roles=ROLES)
    api = app.test_client()
    made = [api.get(path, headers=bearer(team.secrets[DEVELOPER])).headers["X-Request-Id"]
            for path in ("/api/v1/users/jack", "/api/v1/users/jack/tweets")]
    for who in range(len(ROLES)):
        client = signed_in_member(app, outbox, team.emails[who], team.organisation_id)
        usage = client.get("/account/usage?days=7")
        assert usage.status_code == 200, ROLES[who]
        body = usage.get_data(as_text=True)
        assert "2 calls in the last 7 days · 6 credits" in body, ROLES[who]
        assert "developer key" in body and "Acme Analytics" in body
        assert "94 credits" in section(body, "balance-title")
        assert ("Buy credits" in section(body, "balance-title")) == (who in (OWNER, BILLING))
        log = client.get("/account/usage/calls").get_data(as_text=True)
        assert sorted(re.findall(r"<code>([0-9a-f]{32})</code>", log)) == sorted(made)
        rows = list(csv.DictReader(io.StringIO(client.get("/account/usage/calls.csv").get_data(as_text=True))))
        assert sorted(r["request_id"] for r in rows) == sorted(made)
        daily = list(csv.reader(io.StringIO(client.get("/account/usage.csv?days=7").get_data(as_text=True))))
        assert daily[-1][1:] == ["2", "6", "0"]
    personal = app.test_client()  # the developer in their personal organisation: none of the team's calls
    AuthActions(personal, outbox).login(team.emails[DEVELOPER])
    assert "0 calls in the last 30 days" in personal.get("/account/usage").get_data(as_text=True)
    assert personal.get("/account/usage/calls.csv").get_data(as_text=True).strip().count("\n") == 0


@pytest.mark.parametrize(("who", "buys", "makes_keys"), [
    (OWNER, True, True), (DEVELOPER, False, True), (BILLING, True, False), (VIEWER, False, False)])
def test_the_overview_shows_the_teams_balance_and_offers_only_what_the_role_may_do(app, outbox, who, buys,
                                                                                   makes_keys):
    team = make_team(app, credits=250, roles=ROLES, keys=False)
    client = signed_in_member(app, outbox, team.emails[who], team.organisation_id)
    page = client.get("/account")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    glance = section(body, "api-title")
    assert "250 credits" in glance and "Acme Analytics" in glance
    assert ('action="/billing/checkout"' in body) == buys
    steps = section(body, "next-title") if 'id="next-title"' in body else ""
    assert ("Create an API key" in steps) == makes_keys
    assert ("Buy credits when" in steps) == buys
    assert ("Manage API keys" in glance) == makes_keys
