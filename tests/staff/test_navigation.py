"""The staff console's own navigation: each role sees only the sections it can open, the current
section is marked on its detail pages too, and the badges count what waits."""

import re

import pytest

from tests.contact.test_routes import send
from tests.staff.test_console import staff_client


def nav_links(body: str) -> list[str]:
    nav = body.split('aria-label="Staff console"', 1)[1].split("</nav>", 1)[0]
    wide = nav.split("side-nav-narrow", 1)[0]
    return re.findall(r'<a href="(/staff/[^"]*)"', wide)


@pytest.mark.parametrize("roles, expected", [
    (("support",), ["/staff/", "/staff/users", "/staff/organisations", "/staff/messages"]),
    (("billing",), ["/staff/", "/staff/users", "/staff/organisations", "/staff/orders"]),
    (("privacy",), ["/staff/", "/staff/users", "/staff/organisations", "/staff/requests", "/staff/agents",
                    "/staff/breaches", "/staff/policies", "/staff/audit"]),
    (("admin",), ["/staff/", "/staff/users", "/staff/organisations", "/staff/orders", "/staff/messages",
                  "/staff/requests", "/staff/agents", "/staff/breaches", "/staff/policies", "/staff/analytics",
                  "/staff/audit", "/staff/team"]),
])
def test_each_role_sees_only_the_sections_it_can_open(app, runner, outbox, roles, expected):
    client = staff_client(app, runner, outbox, roles=roles)
    links = nav_links(client.get("/staff/").get_data(as_text=True))
    assert links == expected
    for path in links:  # and every one it sees opens
        assert client.get(path).status_code == 200, path


def test_the_inbox_badge_counts_new_messages_and_the_section_stays_marked_on_a_thread(app, runner, outbox):
    client = staff_client(app, runner, outbox, roles=("support",))
    body = client.get("/staff/").get_data(as_text=True)
    assert "items waiting" not in body and "item waiting" not in body
    visitor = app.test_client()
    send(visitor)
    send(visitor, email="bob@example.com")
    body = client.get("/staff/users").get_data(as_text=True)
    assert re.search(r'Inbox <span class="badge">2<span class="visually-hidden"> items waiting', body)
    assert re.search(r'href="/staff/users" aria-current="page">Customers<', body)
    reference = re.search(r'href="/staff/messages/([A-Z0-9-]+)"', client.get("/staff/messages").get_data(as_text=True))
    thread = client.get(f"/staff/messages/{reference.group(1)}").get_data(as_text=True)
    assert re.search(r'href="/staff/messages" aria-current="page">Inbox', thread)


def test_the_roles_read_as_words_in_the_visitors_language(app, runner, outbox):
    client = staff_client(app, runner, outbox, roles=("billing", "support"))
    assert "Billing and Support" in client.get("/staff/").get_data(as_text=True)
    client.get("/language/zh_Hans")
    body = client.get("/staff/").get_data(as_text=True)
    assert "支持和计费" in body and "控制台菜单" in body  # sorted and joined the Chinese way
