"""Consent services: the cookie format, banner hashes, analytics totals."""

from datetime import date, timedelta

from app.consent import services
from app.timeutil import utcnow


def test_cookie_round_trip_and_tamper_detection():
    decision = services.Decision("id-1", frozenset({"necessary", "analytics"}), "v1", utcnow().replace(microsecond=0))
    value = services.encode_cookie(decision, "secret")
    assert services.decode_cookie(value, "secret") == decision
    assert services.decode_cookie(value, "another secret") is None
    assert services.decode_cookie(value + "x", "secret") is None
    assert services.decode_cookie("", "secret") is None


def test_banner_hash_depends_on_the_text_shown(app):
    with app.app_context():
        english, chinese = services.banner_hash("en"), services.banner_hash("zh_Hans")
    assert english != chinese and len(english) == 64


def test_visitor_hashes_do_not_link_days():
    day = date(2026, 1, 1)
    assert services.visitor_hash("v", day, "k") == services.visitor_hash("v", day, "k")
    assert services.visitor_hash("v", day, "k") != services.visitor_hash("v", day + timedelta(days=1), "k")


def test_daily_totals_fill_missing_days(db):
    today = utcnow().date()
    services.count_page_view("/", "visitor-a", "k", today)
    services.count_page_view("/", "visitor-a", "k", today)
    services.count_page_view("/pricing", "visitor-b", "k", today)
    db.session.commit()
    totals = services.daily_totals(today - timedelta(days=2), today)
    assert [t["views"] for t in totals] == [0, 0, 3]
    assert totals[-1]["visitors"] == 2
    assert services.top_pages(today, today) == [("/", 2), ("/pricing", 1)]
