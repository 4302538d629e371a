"""The Data Rights Protocol 0.9.4 where an outside agent (Consumer Reports' OSIRAA, the spec's
text) found us off the protocol: ``expected_by`` on every ``in_progress`` answer (3.03), both
spellings of the opt-out right, the verification page checking the agent's ``request_id`` (3.02),
strict parsing of signed messages (canonical base64, no duplicate claims), claims checked on
revoke, single-use pairing messages that cannot be another message, a bounded message lifetime,
and agent filings counted against the per-address limit of rights requests."""

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.drp.models import AgentRequest
from app.extensions import db as _db
from app.rights import workflow
from app.rights.models import RightsRequest
from app.timeutil import utcnow
from tests.drp.test_protocol import Agent
from tests.fixtures.visitor import submit

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _code(outbox, email: str) -> str:
    mail = next(m for m in reversed(outbox) if m["To"] == email and "code" in m["Subject"])
    return re.search(r"\b(\d{6})\b", mail["Subject"]).group(1)


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _filed(app) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count(AgentRequest.id)))


@pytest.fixture
def agent(app, client):
    found = Agent(app)
    assert found.pair(client).status_code == 200
    return found


def test_in_progress_carries_expected_by_before_and_after_the_person_verifies(app, client, agent, outbox):
    filed = agent.exercise(client, email="ida@example.com").get_json()
    assert (filed["status"], filed["reason"]) == ("in_progress", "need_user_verification")
    assert _moment(filed["expected_by"]) > _moment(filed["received_at"])  # 3.03: MUST, also before verifying
    path = f"/v1/data-rights-request/{filed['request_id']}"
    before = client.get(path, headers=agent.headers()).get_json()
    assert before["status"] == "in_progress" and before["expected_by"] == filed["expected_by"]
    with app.app_context():
        req = _db.session.scalar(select(RightsRequest))
        assert workflow.check_code(req, _code(outbox, "ida@example.com"), utcnow())
        _db.session.commit()
        due = req.due_on
    after = client.get(path, headers=agent.headers()).get_json()
    assert after["status"] == "in_progress" and _moment(after["expected_by"]).date() == due


@pytest.mark.parametrize("spelling", ["sale:opt-out", "sale:opt_out"])
def test_both_spellings_of_the_opt_out_right_are_accepted(client, agent, spelling):
    answer = agent.exercise(client, exercise=spelling)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "fulfilled"


def test_the_verification_page_checks_the_request_id_the_agent_attached(app, client, agent, outbox):
    first = agent.exercise(client, email="una@example.com").get_json()
    second = agent.exercise(client, email="vic@example.com").get_json()
    url = _path(first["user_verification_url"])
    wrong = client.get(url, query_string={"request_id": second["request_id"], "redirect_to": "https://agent.example.org/"})
    assert wrong.status_code == 400 and 'name="code"' not in wrong.get_data(as_text=True)
    page = client.get(url, query_string={"request_id": second["request_id"]})
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)
    refused = client.post(url, data={"csrf_token": token, "code": _code(outbox, "una@example.com"),
                                     "request_id": second["request_id"]}, headers={"Origin": "http://localhost"})
    assert page.status_code == 400 and refused.status_code == 400
    with app.app_context():  # the code was not taken for the wrong request
        assert _db.session.scalar(select(RightsRequest.status).where(RightsRequest.email == "una@example.com")) \
            == "unconfirmed"
    right = client.get(url, query_string={"request_id": first["request_id"]}).get_data(as_text=True)
    assert 'name="code"' in right and f'value="{first["request_id"]}"' in right
    done = client.post(url, data={"csrf_token": token, "code": _code(outbox, "una@example.com"),
                                  "request_id": first["request_id"]}, headers={"Origin": "http://localhost"})
    assert done.status_code == 200
    with app.app_context():
        assert _db.session.scalar(select(RightsRequest.status).where(RightsRequest.email == "una@example.com")) \
            == "received"


def _non_canonical(encoded: bytes) -> list[bytes]:
    """The other spellings of a base64 text whose last character has unused bits set differently."""
    text = encoded.decode()
    body = text.rstrip("=")
    unused = {1: 4, 2: 2}[len(text) - len(body)]
    last = ALPHABET.index(body[-1])
    return [(body[:-1] + ALPHABET[last | bits] + text[len(body):]).encode()
            for bits in range(1, 2 ** unused)]


def test_a_signed_message_in_non_canonical_base64_is_refused(app, client, agent):
    for pad in range(3):  # find a message whose base64 ends in "=": its last character has unused bits
        claims = agent.claims(exercise="deletion", email="zoe@example.com", **{"agent-request-id": "r" * (1 + pad)})
        canonical = agent.sign(claims)
        if canonical.endswith(b"="):
            break
    variants = _non_canonical(canonical)
    assert variants and all(base64.b64decode(v, validate=True) == base64.b64decode(canonical) for v in variants)
    for variant in variants:
        answer = client.post("/v1/data-rights-request", data=variant, content_type="text/plain",
                             headers=agent.headers())
        assert answer.status_code == 400 and "base64" in answer.get_json()["message"], variant
    assert _filed(app) == 0
    assert client.post("/v1/data-rights-request", data=canonical, content_type="text/plain",
                       headers=agent.headers()).status_code == 200
    assert _filed(app) == 1


def test_a_signed_message_with_a_claim_twice_is_refused(app, client, agent):
    claims = json.dumps(agent.claims(exercise="deletion", email="amy@example.com"))
    twice = claims[:-1] + ', "business-id": "ACME"}'
    answer = client.post("/v1/data-rights-request", data=base64.b64encode(agent.key.sign(twice.encode())),
                         content_type="text/plain", headers=agent.headers())
    assert answer.status_code == 400 and "twice" in answer.get_json()["message"]
    assert _filed(app) == 0


def test_revoke_checks_the_claims_like_an_exercise(app, client, agent):
    filed = agent.exercise(client, email="rae@example.com").get_json()
    path = f"/v1/data-rights-request/{filed['request_id']}"
    past = (utcnow() - timedelta(minutes=1)).isoformat()

    def revoke(claims):
        return client.delete(path, data=agent.sign(claims), content_type="text/plain", headers=agent.headers())

    for case, claims, status, words in [
        ("no claims, only a reason", {"reason": "changed my mind"}, 403, "another agent"),
        ("expired", agent.claims(reason="x", **{"expires-at": past}), 400, "expired"),
        ("another business", agent.claims(reason="x", **{"business-id": "ACME"}), 403, "another business"),
        ("an exercise message", agent.claims(exercise="deletion", email="rae@example.com"), 400, "not a revoke"),
    ]:
        answer = revoke(claims)
        assert (answer.status_code, words in answer.get_json()["message"]) == (status, True), case
    with app.app_context():
        assert _db.session.scalar(select(RightsRequest.status)) == "unconfirmed"
    done = revoke(agent.claims(reason="changed my mind"))
    assert done.status_code == 200 and done.get_json()["status"] == "revoked"


def test_a_pairing_message_works_once_and_cannot_be_an_exercise_message(app, client):
    found = Agent(app, agent_id="ONCE_AGENT")
    body = found.sign(found.claims())
    assert client.post(f"/v1/agent/{found.id}", data=body, content_type="text/plain").status_code == 200
    again = client.post(f"/v1/agent/{found.id}", data=body, content_type="text/plain")
    assert (again.status_code, again.get_data()) == (403, b"")
    exercise = found.sign(found.claims(exercise="deletion", email="pat@example.com"))
    assert client.post(f"/v1/agent/{found.id}", data=exercise, content_type="text/plain").status_code == 403
    revoke = found.sign(found.claims(reason="x"))
    assert client.post(f"/v1/agent/{found.id}", data=revoke, content_type="text/plain").status_code == 403
    found.token = again_token = client.post(f"/v1/agent/{found.id}", data=found.sign(found.claims()),
                                            content_type="text/plain").get_json()["token"]
    assert again_token  # a new pairing message pairs again
    as_exercise = client.post("/v1/data-rights-request", data=body, content_type="text/plain",
                              headers=found.headers())
    assert as_exercise.status_code == 400 and "Unsupported rights" in as_exercise.get_json()["message"]


def test_a_message_may_live_fifteen_minutes_and_no_longer_unless_configured(make_app):
    app = make_app()
    client = app.test_client()
    found = Agent(app, agent_id="LONG_AGENT")
    issued = datetime.now(UTC) - timedelta(seconds=5)

    def window(minutes: float) -> dict:  # OSIRAA's own form: milliseconds and +00:00
        return {"issued-at": issued.isoformat(timespec="milliseconds"),
                "expires-at": (issued + timedelta(minutes=minutes)).isoformat(timespec="milliseconds")}

    assert found.pair(client, **window(24 * 60)).status_code == 403
    assert found.pair(client, **window(15)).status_code == 200
    long = found.exercise(client, email="lou@example.com", **window(15.5))
    assert long.status_code == 400 and "15 minutes" in long.get_json()["message"] and long.get_json()["fatal"]
    backwards = found.exercise(client, email="lou@example.com", **window(-1))
    assert backwards.status_code == 400
    assert found.exercise(client, email="lou@example.com", **window(15)).status_code == 200
    roomy = make_app(DRP_MAX_MESSAGE_MINUTES=60)
    other = Agent(roomy, agent_id="ROOMY_AGENT")
    assert other.pair(roomy.test_client(), **window(45)).status_code == 200


def test_agent_filings_count_against_the_per_address_limit(make_app, outbox):
    app = make_app(RIGHTS_RATE_LIMIT_ADDRESS="2 per hour")
    client = app.test_client()
    found = Agent(app, agent_id="BUSY_AGENT")
    assert found.pair(client).status_code == 200
    for _ in range(2):
        assert found.exercise(client, email="Kim@Example.com").status_code == 200
    third = found.exercise(client, email="kim@example.com")
    assert third.status_code == 429 and "too many" in third.get_json()["message"].lower()
    assert _filed(app) == 2
    assert found.exercise(client, email="other@example.com").status_code == 200  # another address is not held
    form = submit(client, "/privacy/request", {"type": "access", "email": "kim@example.com", "details": "x"})
    assert form.status_code == 429  # the person's own form counts the agent's filings too
