"""The contact form and support threads, from the sender's side and the staff inbox."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app import retention
from app.audit.models import AuditEntry
from app.contact.models import ContactMessage, ContactThread
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.fixtures.visitor import AuthActions, link_in, submit, turn_on_2fa
from tests.staff.test_routes import PASSWORD, make_staff

MESSAGE = "Hello, I would like to know more about the search endpoint."
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def send(client, **fields):
    data = {"name": "Ann", "email": "ann@example.com", "subject": "technical", "message": MESSAGE, **fields}
    return submit(client, "/contact", data, follow_redirects=True)


def thread(app):
    with app.app_context():
        row = _db.session.scalar(select(ContactThread))
        _db.session.expunge_all()
        return row


def staff_client(app, runner, outbox, roles=("support",)):
    make_staff(runner, roles=roles)
    client = app.test_client()
    AuthActions(client, outbox).login("staff@example.com", PASSWORD)
    turn_on_2fa(client)
    return client


def test_signed_out_visitor_sends_a_message_and_gets_a_reference_and_confirmation(app, client, outbox):
    page = client.get("/contact").get_data(as_text=True)
    assert "What we keep" in page and "365 days" in page and "7 days" in page
    response = send(client)
    assert response.status_code == 200
    reference = re.search(r"SUP-[2-9A-Z]{6}", response.get_data(as_text=True)).group()
    assert thread(app).reference == reference
    [mail] = outbox
    assert mail["To"] == "ann@example.com" and reference in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert "/contact/thread/" in text


def test_the_confirmation_never_echoes_the_visitors_text_to_the_unconfirmed_address(client, outbox):
    spam = "Win a prize at https://spam.example/claim now " * 20
    send(client, name="Visit https://spam.example", message=spam)
    [mail] = outbox
    for part in ("plain", "html"):
        body = mail.get_body((part,)).get_content()
        assert "spam.example" not in body
        assert "Win a prize" not in body


def test_confirmation_in_the_visitors_language(client, outbox):
    submit(client, "/contact", {"name": "李", "email": "li@example.com", "subject": "sales", "message": MESSAGE},
           headers={"Accept-Language": "zh-CN"})
    assert "我们已收到" in outbox[-1]["Subject"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"message": "too short"}, "between 10 and 5,000"),
    ({"message": "x" * 5001}, "between 10 and 5,000"),
    ({"email": "not-an-address"}, "valid e-mail address"),
    ({"name": ""}, "Tell us your name"),
    ({"subject": "gossip"}, "Not a valid choice"),
])
def test_validation_messages_and_nothing_kept(app, client, outbox, fields, message):
    response = send(client, **fields)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert thread(app) is None and outbox == []


def test_validation_in_chinese(client):
    response = submit(client, "/contact", {"name": "李", "email": "x", "subject": "sales", "message": "短"},
                      headers={"Accept-Language": "zh-CN"})
    assert "请输入有效的电子邮箱地址" in response.get_data(as_text=True)


def test_the_honeypot_keeps_nothing_but_looks_like_success(app, client, outbox):
    response = send(client, website="http://spam.example")
    assert response.status_code == 200 and "Thank you" in response.get_data(as_text=True)
    assert thread(app) is None and outbox == []


def test_throttled_per_address_with_a_clear_429(make_app, outbox):
    app = make_app(CONTACT_RATE_LIMIT_ADDRESS="2 per hour")
    client = app.test_client()
    assert send(client).status_code == 200
    assert send(client).status_code == 200
    blocked = send(client)
    assert blocked.status_code == 429
    assert "Please wait" in blocked.get_data(as_text=True)


def test_throttled_per_ip(make_app, outbox):
    app = make_app(CONTACT_RATE_LIMIT_IP="2 per hour")
    client = app.test_client()
    send(client, email="a@example.com")
    send(client, email="b@example.com")
    assert send(client, email="c@example.com").status_code == 429


def test_without_csrf_or_from_another_site_nothing_is_sent(app, client):
    data = {"name": "Ann", "email": "ann@example.com", "subject": "sales", "message": MESSAGE}
    assert client.post("/contact", data=data, headers={"Origin": "http://localhost"}).status_code == 400
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/contact").get_data(as_text=True))[1]
    assert client.post("/contact", data={**data, "csrf_token": token},
                       headers={"Origin": "https://evil.example"}).status_code == 400
    assert thread(app) is None


def test_privacy_topic_points_to_the_rights_request_form_and_still_accepts_the_message(app, client):
    response = send(client, subject="privacy")
    assert "/privacy/request" in response.get_data(as_text=True)
    assert thread(app).topic == "privacy"


def test_message_bodies_are_encrypted_at_rest(app, client):
    send(client, message="A very recognisable sentence about my account.")
    with app.app_context():
        raw = _db.session.execute(text("SELECT body FROM contact_messages")).scalar()
        assert "recognisable" not in raw
        assert _db.session.scalar(select(ContactMessage.body)) == "A very recognisable sentence about my account."


def test_signed_in_customer_finds_the_form_filled_and_the_thread_on_account_support(app, client, outbox):
    auth = AuthActions(client, outbox)
    auth.register(nickname="Alice")
    auth.login()
    page = client.get("/contact").get_data(as_text=True)
    assert 'value="alice@example.com"' in page and 'value="Alice"' in page
    submit(client, "/contact", {"name": "Alice", "email": "alice@example.com", "subject": "billing",
                                "message": MESSAGE}, follow_redirects=True)
    reference = thread(app).reference
    assert reference in client.get("/account/support").get_data(as_text=True)
    reply = submit(client, f"/account/support/{reference}", {"message": "One more detail for you here."})
    assert reply.status_code == 303
    assert "One more detail" in client.get(f"/account/support/{reference}").get_data(as_text=True)


def test_one_customer_never_reaches_anothers_thread(app, client, outbox):
    AuthActions(client, outbox).register("alice@example.com")
    AuthActions(client, outbox).login("alice@example.com")
    submit(client, "/contact", {"name": "A", "email": "alice@example.com", "subject": "sales", "message": MESSAGE},
           follow_redirects=True)
    reference = thread(app).reference
    bob = app.test_client()
    AuthActions(bob, outbox).register("bob@example.com")
    AuthActions(bob, outbox).login("bob@example.com")
    assert bob.get(f"/account/support/{reference}").status_code == 404
    assert reference not in bob.get("/account/support").get_data(as_text=True)


def test_staff_reply_reaches_the_visitor_who_answers_through_the_signed_link(app, client, runner, outbox):
    send(client)
    reference = thread(app).reference
    link = link_in(outbox[0], "/contact/thread/")
    staff = staff_client(app, runner, outbox)
    outbox.clear()
    submit(staff, f"/staff/messages/{reference}", {"action": "reply", "message": "Thanks, here is the answer."})
    submit(staff, f"/staff/messages/{reference}", {"action": "note", "message": "Internal: VIP customer."})
    [reply_mail] = outbox
    assert "Thanks, here is the answer." in reply_mail.get_body(("plain",)).get_content()
    visitor = app.test_client()
    page = visitor.get(link_in(reply_mail, "/contact/thread/")).get_data(as_text=True)
    assert "Thanks, here is the answer." in page and "VIP customer" not in page
    assert submit(visitor, link, {"message": "Great, one more question."}).status_code == 303
    assert thread(app).status == "open"
    assert "Great, one more question." in staff.get(f"/staff/messages/{reference}").get_data(as_text=True)


def test_reply_links_cannot_be_forged_or_used_for_another_thread(app, client, outbox):
    send(client, email="one@example.com")
    send(client, email="two@example.com")
    first_link = link_in(outbox[0], "/contact/thread/")
    token = first_link.rsplit("/", 1)[1]
    assert client.get(first_link).status_code == 200
    assert client.get(first_link[:-2] + "xx").status_code == 404
    with app.app_context():
        other = _db.session.scalars(select(ContactThread).order_by(ContactThread.id)).all()[1]
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("not-our-secret", salt="contact-thread-link").dumps({"t": other.id,
                                                                                        "r": other.reference})
    assert client.get(f"/contact/thread/{forged}").status_code == 404
    assert token != forged


def test_staff_inbox_filters_searches_assigns_closes_and_audits(app, client, runner, outbox):
    send(client, email="one@example.com", subject="billing")
    send(client, email="two@example.com", subject="technical")
    staff = staff_client(app, runner, outbox)
    assert "2 new messages" in staff.get("/staff/").get_data(as_text=True)
    assert staff.get("/staff/messages?topic=billing").get_data(as_text=True).count("one@example.com") == 1
    assert "two@example.com" not in staff.get("/staff/messages?q=one@example.com").get_data(as_text=True)
    with app.app_context():
        reference = _db.session.scalar(select(ContactThread.reference).where(ContactThread.email == "one@example.com"))
        staff_id = _db.session.scalar(text("SELECT id FROM users WHERE email = 'staff@example.com'"))
    submit(staff, f"/staff/messages/{reference}", {"action": "assign", "assignee": str(staff_id)})
    submit(staff, f"/staff/messages/{reference}", {"action": "close"})
    with app.app_context():
        row = _db.session.scalar(select(ContactThread).where(ContactThread.reference == reference))
        assert (row.status, row.assignee_id) == ("closed", staff_id)
        actions = set(_db.session.scalars(select(AuditEntry.action)))
    assert {"contact:thread:view", "contact:thread:assign", "contact:thread:close"} <= actions
    submit(staff, f"/staff/messages/{reference}", {"action": "reopen"})
    assert thread(app) is not None


def test_xss_is_shown_escaped_in_the_inbox_and_in_emails(app, client, runner, outbox):
    send(client, name=XSS[:90], message="Look at this: " + XSS)
    html = outbox[0].get_body(("html",)).get_content()
    assert "<script>" not in html and "alert(" not in html  # the confirmation carries no visitor text
    staff = staff_client(app, runner, outbox)
    listing = staff.get("/staff/messages").get_data(as_text=True)
    page = staff.get(f"/staff/messages/{thread(app).reference}").get_data(as_text=True)
    for body in (listing, page):
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "&lt;script&gt;" in body


def test_other_roles_cannot_open_the_inbox(app, runner, outbox):
    staff = staff_client(app, runner, outbox, roles=("billing",))
    assert staff.get("/staff/messages").status_code == 403


def test_retention_truncates_ips_and_deletes_closed_threads(app, client):
    submit(client, "/contact", {"name": "Ann", "email": "ann@example.com", "subject": "sales", "message": MESSAGE},
           environ_base={"REMOTE_ADDR": "198.51.100.77"})
    with app.app_context():
        row = _db.session.scalar(select(ContactThread))
        assert row.ip == "198.51.100.77"
        counts = retention.purge(app.config, utcnow() + timedelta(days=8))
        assert counts["contact_threads.ip"] == 1
        assert _db.session.scalar(select(ContactThread.ip)) == "198.51.100.0"
        row = _db.session.scalar(select(ContactThread))
        row.status, row.closed_at = "closed", utcnow()
        _db.session.commit()
        counts = retention.purge(app.config, utcnow() + timedelta(days=366))
        assert counts["contact_messages.closed"] == 1 and counts["contact_threads.closed"] == 1
        assert _db.session.scalars(select(ContactThread)).all() == []


def test_sending_redirects_so_a_reload_never_sends_twice(app, client, outbox):
    data = {"name": "Ann", "email": "ann@example.com", "subject": "technical", "message": MESSAGE}
    response = submit(client, "/contact", data)
    assert response.status_code == 303 and response.headers["Location"].startswith("/contact/sent/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert thread(app).reference in page  # a reload shows the confirmation again and sends nothing
    assert client.get(response.headers["Location"]).status_code == 200
    assert client.get("/contact/sent/forged-token").headers["Location"] == "/contact"
    with app.app_context():
        from app.contact.models import ContactThread

        assert len(_db.session.scalars(select(ContactThread)).all()) == 1


def test_the_rights_request_hint_is_a_link(client):
    assert '<a href="/privacy/request">rights-request form</a>' in client.get("/contact").get_data(as_text=True)


def test_no_topic_is_picked_for_the_visitor(client):
    page = client.get("/contact").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="subject"[^>]*required[^>]*><option value="">Choose a topic…', page)
    body = send(client, subject="").get_data(as_text=True)
    assert "Choose a topic." in body and "Message sent" not in body
