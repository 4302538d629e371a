"""The Data Rights Protocol (v0.9.4) against the real app: an agent registered by staff pairs for a
token with a signed message, files requests signed with its Ed25519 key (PyNaCl, a key made for
the test), follows and revokes them. Every refusal of section 3.07's validation order is checked,
in that order; the person confirms with the e-mailed code; staff finish the request."""

import base64
import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from nacl.signing import SigningKey
from sqlalchemy import select

from app.drp import agents
from app.drp import services as drp_services
from app.drp.models import AgentRequest
from app.extensions import db as _db
from app.rights import workflow
from app.rights.models import RightsRequest
from app.timeutil import utcnow
from tests.fixtures.factories import UserFactory
from tests.fixtures.visitor import submit
from tests.staff.test_console import staff_client

BUSINESS = "TWTAPI"


class Agent:
    """An authorized agent: its key, its id, and the requests it signs."""

    def __init__(self, app, agent_id="CR_AGENT", web_url="https://agent.example.org"):
        self.key, self.id, self.app = SigningKey.generate(), agent_id, app
        with app.app_context():
            staff = UserFactory(email=f"dpo-{agent_id.lower()}@example.com")
            agents.register_agent({"agent_id": agent_id, "name": "Consumer Agent", "web_url": web_url,
                                   "verify_key": base64.b64encode(bytes(self.key.verify_key)).decode()},
                                  staff, utcnow())
            _db.session.commit()
        self.token = None

    def claims(self, **changes) -> dict:
        now = utcnow()
        claims = {"agent-id": self.id, "business-id": BUSINESS, "issued-at": (now - timedelta(seconds=5)).isoformat()
                  + "Z", "expires-at": (now + timedelta(minutes=10)).isoformat() + "Z", "drp.version": "0.9.4"}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict, key: SigningKey | None = None) -> bytes:
        return base64.b64encode((key or self.key).sign(json.dumps(claims).encode()))

    def pair(self, client, **changes):
        response = client.post(f"/v1/agent/{self.id}", data=self.sign(self.claims(**changes)),
                               content_type="text/plain")
        if response.status_code == 200:
            self.token = response.get_json()["token"]
        return response

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def exercise(self, client, body: bytes | None = None, **changes):
        claims = self.claims(**{"exercise": "deletion", "regime": "ccpa", "email": "pat@example.com", **changes})
        return client.post("/v1/data-rights-request", data=body if body is not None else self.sign(claims),
                           content_type="text/plain", headers=self.headers())


@pytest.fixture
def agent(app, client):
    found = Agent(app)
    assert found.pair(client).status_code == 200
    return found


def test_pairing_gives_a_token_and_refuses_every_bad_message_with_a_bare_403(app, client):
    found = Agent(app)
    other_key = SigningKey.generate()
    for case, response in {
        "unknown agent": client.post("/v1/agent/NOBODY", data=found.sign(found.claims()), content_type="text/plain"),
        "not base64": client.post(f"/v1/agent/{found.id}", data=b"%%%", content_type="text/plain"),
        "another key": client.post(f"/v1/agent/{found.id}", data=found.sign(found.claims(), other_key),
                                   content_type="text/plain"),
        "agent-id": found.pair(client, **{"agent-id": "SOMEONE_ELSE"}),
        "business-id": found.pair(client, **{"business-id": "ACME"}),
        "issued in the future": found.pair(client, **{"issued-at": (utcnow() + timedelta(hours=1)).isoformat()}),
        "expired": found.pair(client, **{"expires-at": (utcnow() - timedelta(minutes=1)).isoformat()}),
    }.items():
        assert (response.status_code, response.get_data()) == (403, b""), case
    paired = found.pair(client)
    assert paired.status_code == 200 and paired.get_json()["agent-id"] == found.id
    assert client.get(f"/v1/agent/{found.id}", headers=found.headers()).get_json() == {}
    assert client.get("/v1/agent/SOMEONE_ELSE", headers=found.headers()).status_code == 403
    assert client.get(f"/v1/agent/{found.id}").status_code == 403


def test_every_step_of_the_validation_order_refuses_in_that_order(app, client, agent):
    """Each case fails one step; the cases that fail two report the earlier one."""
    other_key = SigningKey.generate()
    future, past = (utcnow() + timedelta(hours=1)).isoformat(), (utcnow() - timedelta(minutes=1)).isoformat()
    cases = [
        ("no bearer token", lambda: client.post("/v1/data-rights-request", data=agent.sign(agent.claims()),
                                                content_type="text/plain"), 403, "bearer token"),
        ("not base64", lambda: agent.exercise(client, body=b"not//base64!!"), 400, "base64"),
        ("signed by another key, for another business",
         lambda: agent.exercise(client, body=agent.sign(agent.claims(**{"business-id": "ACME"}), other_key)),
         403, "signature"),
        ("signed, not JSON", lambda: agent.exercise(client, body=base64.b64encode(agent.key.sign(b"hello"))),
         400, "JSON"),
        ("another agent's id, and expired", lambda: agent.exercise(client, **{"agent-id": "X", "expires-at": past}),
         403, "another agent"),
        ("another business, issued in the future",
         lambda: agent.exercise(client, **{"business-id": "ACME", "issued-at": future}), 403, "another business"),
        ("issued in the future, and expired", lambda: agent.exercise(client, **{"issued-at": future,
                                                                                  "expires-at": past}),
         400, "issued-at"),
        ("expired", lambda: agent.exercise(client, **{"expires-at": past}), 400, "expired"),
        ("not a time", lambda: agent.exercise(client, **{"expires-at": "tomorrow"}), 400, "ISO 8601"),
        ("unsupported right", lambda: agent.exercise(client, exercise="sale:opt_in"), 400, "Unsupported rights"),
        ("callback elsewhere", lambda: agent.exercise(client, status_callback="https://evil.example.com/cb"),
         400, "status_callback"),
    ]
    for case, send, status, words in cases:
        response = send()
        assert response.status_code == status, case
        assert response.mimetype == "application/json" and words in response.get_json()["message"], case
    assert agent.exercise(client, **{"expires-at": past}).get_json()["fatal"] is True
    with app.app_context():
        assert _db.session.scalar(select(AgentRequest.id)) is None  # nothing filed by any of them


def test_a_deletion_is_verified_by_the_emailed_code_followed_and_fulfilled(app, client, agent, outbox):
    with app.app_context():  # the person has an account at the address
        UserFactory(email="pat@example.com")
        _db.session.commit()
    body = agent.sign(agent.claims(exercise="deletion", regime="ccpa", email="pat@example.com",
                                   **{"agent-request-id": "agent-77"}))
    filed = client.post("/v1/data-rights-request", data=body, content_type="text/plain", headers=agent.headers())
    status = filed.get_json()
    assert filed.status_code == 200 and status["status"] == "in_progress"
    assert status["reason"] == "need_user_verification" and status["agent_request_id"] == "agent-77"
    again = client.post("/v1/data-rights-request", data=body, content_type="text/plain", headers=agent.headers())
    assert again.status_code == 409  # the same signed message, replayed
    code = re.search(r"\b(\d{6})\b", outbox[-1].get_body(("plain",)).get_content()).group(1)
    verify = status["user_verification_url"].split("localhost", 1)[-1].split("5000", 1)[-1]
    page = client.get(verify + "?redirect_to=https://evil.example.com/").get_data(as_text=True)
    assert "Consumer Agent" in page and 'name="redirect_to"' not in page  # never off the agent's own site
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    wrong = client.post(verify, data={"csrf_token": token, "code": "000000"}, headers={"Origin": "http://localhost"})
    assert wrong.status_code == 400
    done = client.post(verify, data={"csrf_token": token, "code": code,
                                     "redirect_to": "https://agent.example.org/done"},
                       headers={"Origin": "http://localhost"})
    assert done.status_code == 303 and done.headers["Location"] == "https://agent.example.org/done"
    followed = client.get(f"/v1/data-rights-request/{status['request_id']}", headers=agent.headers()).get_json()
    assert followed["status"] == "in_progress" and "expected_by" in followed and "reason" not in followed
    with app.app_context():
        req = _db.session.scalar(select(RightsRequest))
        assert (req.type, req.status) == ("erasure", "received") and "Data Rights Protocol" in req.details
        officer = UserFactory(email="officer@example.com")
        workflow.complete(req, officer, "", app.config, utcnow())  # staff erase the person's data
        _db.session.commit()
    finished = client.get(f"/v1/data-rights-request/{status['request_id']}", headers=agent.headers()).get_json()
    assert finished["status"] == "fulfilled"


def test_revoking_and_another_agent_and_an_opt_out(app, client, agent):
    status = agent.exercise(client).get_json()
    path = f"/v1/data-rights-request/{status['request_id']}"
    stranger = Agent(app, agent_id="OTHER_AGENT")
    stranger.pair(client)
    assert client.get(path, headers=stranger.headers()).status_code == 403
    assert client.delete(path, data=stranger.sign(stranger.claims(reason="x")), content_type="text/plain",
                         headers=stranger.headers()).status_code == 403
    revoked = client.delete(path, data=agent.sign(agent.claims(reason="I changed my mind")),
                            content_type="text/plain", headers=agent.headers())
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    assert client.delete(path, data=agent.sign(agent.claims(reason="again")), content_type="text/plain",
                         headers=agent.headers()).status_code == 409
    with app.app_context():
        assert _db.session.scalar(select(RightsRequest.status)) == "revoked"
    opt_out = agent.exercise(client, exercise="sale:opt_out").get_json()
    assert opt_out["status"] == "fulfilled" and "do not sell" in opt_out["processing_details"]
    no_email = agent.exercise(client, email=None).get_json()
    assert (no_email["status"], no_email["reason"]) == ("denied", "no_match")
    assert client.get("/v1/data-rights-request/nope", headers=agent.headers()).status_code == 404


def test_agents_are_registered_by_privacy_staff_with_a_valid_key(app, runner, outbox):
    officer = staff_client(app, runner, outbox, email="dpo@example.com", roles=("privacy",))
    bad = submit(officer, "/staff/agents", {"agent_id": "A B", "name": "x", "verify_key": "not a key",
                                            "web_url": "http://agent.example.org"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "base64-encoded (32 bytes)" in text and "https address" in text
    key = base64.b64encode(bytes(SigningKey.generate().verify_key)).decode()
    done = submit(officer, "/staff/agents", {"agent_id": "GOOD_AGENT", "name": "Good Agent", "verify_key": key,
                                             "web_url": "https://good.example.org"})
    assert done.status_code == 303
    assert "GOOD_AGENT" in officer.get("/staff/agents").get_data(as_text=True)
    support = staff_client(app, runner, outbox, email="agent@example.com", roles=("support",))
    assert support.get("/staff/agents").status_code == 403


class Callbacks:
    """The agent's status-callback endpoint: a real HTTP server on loopback that records each POST."""

    def __init__(self, fail: bool = False):
        received, self.fail = [], fail

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler):  # noqa: N802 - the http.server API
                received.append(json.loads(handler.rfile.read(int(handler.headers["Content-Length"]))))
                handler.send_response(500 if self.fail else 200)
                handler.end_headers()

            def log_message(handler, *args):
                pass

        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_status_callbacks_are_posted_by_the_job_once_per_change_and_retried_after_a_failure(app, client, outbox):
    hook = Callbacks()
    try:
        found = Agent(app, agent_id="HOOK_AGENT", web_url=hook.url)
        found.pair(client)
        status = found.exercise(client, status_callback=f"{hook.url}/drp/status").get_json()
        runner = app.test_cli_runner()
        assert "1 delivered" in runner.invoke(args=["drp", "callbacks"]).output
        assert hook.received[-1]["reason"] == "need_user_verification"
        assert "0 delivered" in runner.invoke(args=["drp", "callbacks"]).output  # nothing changed
        code = re.search(r"\b(\d{6})\b", outbox[-1].get_body(("plain",)).get_content()).group(1)
        with app.app_context():
            req = _db.session.scalar(select(RightsRequest))
            workflow.check_code(req, code, utcnow())
            _db.session.commit()
        hook.fail = True  # the agent's endpoint is down: tried again later, nothing lost
        assert "1 failed" in runner.invoke(args=["drp", "callbacks"]).output
        with app.app_context():
            filed = _db.session.scalar(select(AgentRequest))
            assert filed.callback_attempts == 1 and filed.callback_next_at > utcnow()
            filed.callback_next_at = utcnow() - timedelta(seconds=1)
            _db.session.commit()
        hook.fail = False
        assert "1 delivered" in runner.invoke(args=["drp", "callbacks"]).output
        assert hook.received[-1] == {**hook.received[-1], "request_id": status["request_id"], "status": "in_progress"}
        assert "reason" not in hook.received[-1]
    finally:
        hook.close()


def test_a_final_status_once_delivered_never_holds_back_the_requests_after_it(app, client):
    hook = Callbacks()
    try:
        found = Agent(app, agent_id="BUSY_AGENT", web_url=hook.url)
        found.pair(client)
        found.exercise(client, exercise="sale:opt_out", status_callback=f"{hook.url}/cb")  # fulfilled at once
        with app.app_context():
            assert drp_services.send_callbacks(app.config, utcnow(), limit=1) == (1, 0)
            _db.session.commit()
        later = found.exercise(client, status_callback=f"{hook.url}/cb").get_json()
        with app.app_context():  # one at a time: the delivered final one is not taken again
            assert drp_services.send_callbacks(app.config, utcnow(), limit=1) == (1, 0)
            _db.session.commit()
        assert [r["status"] for r in hook.received] == ["fulfilled", "in_progress"]
        assert hook.received[-1]["request_id"] == later["request_id"]
    finally:
        hook.close()
