"""Credentials under concurrency: real concurrent clients against gunicorn (2 workers x 8
threads), on SQLite as on PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pyotp
from sqlalchemy import func, select

from app.auth import twofactor
from app.auth.models import Passkey, RecoveryCode, User, UserSession
from app.extensions import db as _db
from app.keys.models import ApiKey
from app.timeutil import utcnow
from tests.fixtures.authenticator import SoftAuthenticator, options_in
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import PASSWORD_FOR_TESTS, form_token
from tests.server import HttpClient


def _with_2fa(app, email="otp@example.com") -> tuple[int, str]:
    user_id, _ = make_customer(app, email=email).as_user()
    secret = pyotp.random_base32()
    with app.app_context():
        user = _db.session.get(User, user_id)
        user.totp_secret, user.totp_enabled_at = secret, utcnow()
        _db.session.commit()
    return user_id, secret


def test_one_code_submitted_at_once_from_eight_pending_sign_ins_gives_one_session(make_app, serve):
    app = make_app()
    user_id, secret = _with_2fa(app)
    url = serve()
    clients = [HttpClient(url) for _ in range(8)]
    for client in clients:  # eight attackers who know the password are each at the code step
        status, headers, _ = client.submit("/login", {"email": "otp@example.com", "password": PASSWORD_FOR_TESTS})
        assert status == 303 and headers["Location"].endswith("/login/2fa")
    code = pyotp.TOTP(secret).now()
    pages = [client.get("/login/2fa")[2] for client in clients]
    start = threading.Barrier(8)

    def enter(pair):
        client, page = pair
        import re

        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        start.wait()
        return client.request("POST", "/login/2fa", {"csrf_token": token, "code": code})[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(enter, zip(clients, pages, strict=True)))
    assert sorted(statuses) == [200] * 7 + [303]  # one sign-in; seven see "already used"
    signed_in = sum(1 for client in clients if client.get("/account")[0] == 200)
    assert signed_in == 1
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(UserSession).where(
            UserSession.user_id == user_id, UserSession.ended_at.is_(None))) == 1


def test_thirty_concurrent_key_creations_stop_at_the_limit(make_app, serve):
    app = make_app()
    user_id, _ = make_customer(app, email="keys@example.com").as_user()  # holds one key already
    limit = app.config["PRICING"].max_keys
    url = serve()
    client = HttpClient(url)
    status, _, _ = client.submit("/login", {"email": "keys@example.com", "password": PASSWORD_FOR_TESTS})
    assert status == 303
    import re

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/account/keys")[2]).group(1)
    start = threading.Barrier(30)

    def create(n):
        start.wait()
        return client.request("POST", "/account/keys", {"csrf_token": token, "name": f"key {n}"})[0]

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(create, range(30)))
    assert statuses.count(200) == limit - 1 and statuses.count(400) == 30 - (limit - 1), statuses
    with app.app_context():
        active = _db.session.scalar(select(func.count()).select_from(ApiKey).where(
            ApiKey.created_by_id == user_id, ApiKey.revoked_at.is_(None)))
    assert active == limit


def test_one_passkey_answer_sent_at_once_by_eight_clients_signs_in_once(make_app, serve):
    """The challenge is used once: of eight copies of one assertion racing in, one signs in."""
    app = make_app()
    make_customer(app, email="keyholder@example.com")
    url = serve(SITE_URL="http://localhost")  # the relying party: a domain name, as passkeys need
    owner, device = HttpClient(url), SoftAuthenticator(origin="http://localhost")
    owner.submit("/login", {"email": "keyholder@example.com", "password": PASSWORD_FOR_TESTS})
    _, _, page = owner.get("/account/security/passkeys")
    status, _, _ = owner.submit("/account/security/passkeys", {"credential": device.create(options_in(page, "create")),
                                                              "name": "Racing key"})
    assert status == 200  # the recovery codes page of a first second factor
    clients = [HttpClient(url) for _ in range(8)]
    pages = [client.get("/login")[2] for client in clients]
    answer = device.get(options_in(pages[0]))
    start = threading.Barrier(8)

    def send(pair):
        client, page = pair
        start.wait()
        return client.request("POST", "/login/passkey", {"csrf_token": form_token(page), "credential": answer})[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, zip(clients, pages, strict=True)))
    assert sorted(statuses) == [303] + [400] * 7
    assert sum(1 for client in clients if client.get("/account")[0] == 200) == 1


def test_twenty_concurrent_passkey_registrations_keep_ten_and_turn_two_factor_on_once(make_app, serve):
    """Twenty answers, each to its own fresh challenge, sent at once by one signed-in person (or a
    thief with the session): the account keeps at most ten passkeys, and the first second factor's
    path (recovery codes, other sessions ended) is taken once."""
    app = make_app()
    user_id, _ = make_customer(app, email="racer@example.com").as_user()
    url = serve(SITE_URL="http://localhost")
    client = HttpClient(url)
    status, _, _ = client.submit("/login", {"email": "racer@example.com", "password": PASSWORD_FOR_TESTS})
    assert status == 303
    answers = []
    for n in range(20):  # twenty page views, twenty challenges, twenty devices
        page = client.get("/account/security/passkeys")[2]
        device = SoftAuthenticator(origin="http://localhost")
        answers.append((form_token(page), device.create(options_in(page, "create")), f"Key {n}"))
    start = threading.Barrier(20)

    def add(answer):
        token, credential, name = answer
        start.wait()
        status, _, body = client.request("POST", "/account/security/passkeys",
                                         {"csrf_token": token, "credential": credential, "name": name})
        return status, "Your recovery codes" in body

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(add, answers))
    statuses = [status for status, _ in results]
    assert statuses.count(400) == 10, statuses
    assert sum(1 for _, codes_shown in results if codes_shown) == 1, results  # the first factor's path, once
    assert statuses.count(303) == 9, statuses
    with app.app_context():
        kept = _db.session.scalar(select(func.count()).select_from(Passkey).where(Passkey.user_id == user_id))
        codes = _db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.user_id == user_id))
    assert kept == 10 and codes == 10
    page = client.get("/account/security/passkeys")[2]
    assert "An account keeps at most 10 passkeys" in page


def test_removing_the_last_two_second_factors_at_once_takes_the_recovery_codes_with_them(make_app, serve):
    """The app turned off and the only passkey removed at the same moment: whichever is last sees
    it is last, so two-factor authentication ends with no recovery codes left behind."""
    app = make_app()
    user_id, _ = make_customer(app, email="both@example.com").as_user()
    url = serve(SITE_URL="http://localhost")
    client = HttpClient(url)
    status, _, _ = client.submit("/login", {"email": "both@example.com", "password": PASSWORD_FOR_TESTS})
    assert status == 303
    with app.app_context():
        user = _db.session.get(User, user_id)
        user.totp_secret, user.totp_enabled_at = pyotp.random_base32(), utcnow()
        codes = twofactor.new_recovery_codes(user, utcnow())
        _db.session.commit()
    page = client.get("/account/security/passkeys")[2]
    device = SoftAuthenticator(origin="http://localhost")
    status, _, _ = client.request("POST", "/account/security/passkeys", {
        "csrf_token": form_token(page), "credential": device.create(options_in(page, "create")), "name": "Only key"})
    assert status == 303  # the app was on: the codes stay
    with app.app_context():
        passkey_id = _db.session.scalar(select(Passkey.id).where(Passkey.user_id == user_id))
    token = form_token(client.get("/account/security/2fa")[2])
    start = threading.Barrier(2)

    def remove_passkey():
        start.wait()
        return client.request("POST", f"/account/security/passkeys/{passkey_id}/remove",
                              {"csrf_token": token, "confirmed": "yes"})[0]

    def turn_off_app():
        start.wait()
        return client.request("POST", "/account/security/2fa/disable", {"csrf_token": token, "code": codes[0]})[0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = [f.result() for f in [pool.submit(remove_passkey), pool.submit(turn_off_app)]]
    assert statuses == [303, 303]
    with app.app_context():
        user = _db.session.get(User, user_id)
        assert not user.has_2fa
        assert _db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.user_id == user_id)) == 0


def test_the_app_and_a_passkey_turned_on_at_once_give_one_set_of_recovery_codes(make_app, serve):
    """Both first second factors at the same moment: one of them is first and shows the codes; the
    other keeps them, so the set shown is the set that works."""
    app = make_app()
    user_id, _ = make_customer(app, email="twofirsts@example.com").as_user()
    url = serve(SITE_URL="http://localhost")
    client = HttpClient(url)
    status, _, _ = client.submit("/login", {"email": "twofirsts@example.com", "password": PASSWORD_FOR_TESTS})
    assert status == 303
    import re

    setup = client.get("/account/security/2fa")[2]
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup).group(1)
    page = client.get("/account/security/passkeys")[2]
    credential = SoftAuthenticator(origin="http://localhost").create(options_in(page, "create"))
    start = threading.Barrier(2)

    def add_passkey():
        start.wait()
        return client.request("POST", "/account/security/passkeys",
                               {"csrf_token": form_token(page), "credential": credential, "name": "Key"})

    def turn_on_app():
        start.wait()
        return client.request("POST", "/account/security/2fa/enable",
                              {"csrf_token": form_token(setup), "code": pyotp.TOTP(secret).now()})

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = [f.result() for f in [pool.submit(add_passkey), pool.submit(turn_on_app)]]
    shown = [re.findall(r"<li><code>([a-z2-9-]{19})</code></li>", body) for _, _, body in answers]
    assert sorted(len(codes) for codes in shown) == [0, 10], [status for status, _, _ in answers]
    with app.app_context():
        user = _db.session.get(User, user_id)
        assert user.has_totp and user.has_passkey
        assert _db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.user_id == user_id)) == 10
    [codes] = [c for c in shown if c]
    client.submit("/account", {}, action="/logout")
    status, headers, _ = client.submit("/login", {"email": "twofirsts@example.com", "password": PASSWORD_FOR_TESTS})
    assert headers["Location"].endswith("/login/2fa")
    status, _, _ = client.submit("/login/2fa", {"code": codes[0]})
    assert status == 303 and client.get("/account")[0] == 200  # the set shown works
