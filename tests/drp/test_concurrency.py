"""One signed request raced by eight real clients against gunicorn (2 workers x 8 threads) files
one request: the rest get 409. On SQLite as on PostgreSQL."""

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from app.drp.models import AgentRequest
from app.extensions import db as _db
from app.rights.models import RequestEvent, RightsRequest
from tests.drp.test_protocol import Agent


def post(url: str, body: bytes, token: str | None = None, method: str = "POST") -> tuple[int, bytes]:
    headers = {"Content-Type": "text/plain", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_one_signed_request_sent_at_once_by_eight_clients_is_filed_once(make_app, serve):
    app = make_app()
    agent = Agent(app)
    url = serve()
    status, body = post(f"{url}/v1/agent/{agent.id}", agent.sign(agent.claims()))
    assert status == 200
    token = json.loads(body)["token"]
    signed = agent.sign(agent.claims(**{"exercise": "access", "email": "pat@example.com"}))
    start = threading.Barrier(8)

    def send(_):
        start.wait()
        return post(f"{url}/v1/data-rights-request", signed, token)[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(send, range(8)))
    assert statuses == [200] + [409] * 7
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(AgentRequest)) == 1
        assert _db.session.scalar(select(func.count()).select_from(RightsRequest)) == 1


def test_eight_revokes_of_one_request_at_once_withdraw_it_once(make_app, serve):
    app = make_app()
    agent = Agent(app)
    url = serve()
    token = json.loads(post(f"{url}/v1/agent/{agent.id}", agent.sign(agent.claims()))[1])["token"]
    filed = json.loads(post(f"{url}/v1/data-rights-request",
                            agent.sign(agent.claims(**{"exercise": "deletion", "email": "pat@example.com"})),
                            token)[1])
    path = f"{url}/v1/data-rights-request/{filed['request_id']}"
    start = threading.Barrier(8)

    def revoke(_):
        start.wait()
        return post(path, agent.sign(agent.claims(reason="changed my mind")), token, method="DELETE")[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(revoke, range(8)))
    assert statuses == [200] + [409] * 7
    with app.app_context():
        events = _db.session.scalar(select(func.count()).select_from(RequestEvent).where(
            RequestEvent.to_status == "revoked"))
        assert events == 1
