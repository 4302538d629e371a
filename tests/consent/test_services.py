"""Consent services: the cookie format, banner hashes, analytics totals."""

from datetime import date, timedelta

from sqlalchemy import func, select

from app.consent import services
from app.consent.models import AnalyticsSalt, VisitorDay
from app.retention import purge
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


def test_a_visitors_hash_changes_each_day_and_cannot_be_recomputed_once_the_day_is_over(db, app):
    """The hash is keyed with a random salt of the day, never with a key that lasts: when the
    next day's first view deletes yesterday's salt, yesterday's hashes belong to nobody."""
    yesterday, today = date(2026, 1, 1), date(2026, 1, 2)
    services.count_page_view("/", "visitor-a", yesterday)
    services.count_page_view("/pricing", "visitor-a", yesterday)
    db.session.commit()
    old_salt = db.session.scalar(select(AnalyticsSalt.salt))
    stored = db.session.scalar(select(VisitorDay.visitor_hash).where(VisitorDay.day == yesterday))
    assert stored == services.visitor_hash("visitor-a", old_salt)
    assert db.session.scalar(select(func.count()).select_from(VisitorDay)) == 1  # one visitor, two views
    services.count_page_view("/", "visitor-a", today)
    db.session.commit()
    assert db.session.scalars(select(AnalyticsSalt.day)).all() == [today]  # yesterday's salt is gone
    hashes = db.session.scalars(select(VisitorDay.visitor_hash).order_by(VisitorDay.day)).all()
    assert len(hashes) == 2 and hashes[0] != hashes[1]
    assert stored != services.visitor_hash("visitor-a", app.config["SECRET_KEY"])  # nor the lasting key's


def test_the_daily_purge_deletes_a_past_salt_when_no_one_came_the_next_day(db, app):
    services.count_page_view("/", "visitor-a", utcnow().date() - timedelta(days=1))
    db.session.commit()
    purge(app.config, utcnow())
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(AnalyticsSalt)) == 0


def test_daily_totals_fill_missing_days(db):
    today = utcnow().date()
    services.count_page_view("/", "visitor-a", today)
    services.count_page_view("/", "visitor-a", today)
    services.count_page_view("/pricing", "visitor-b", today)
    db.session.commit()
    totals = services.daily_totals(today - timedelta(days=2), today)
    assert [t["views"] for t in totals] == [0, 0, 3]
    assert totals[-1]["visitors"] == 2
    assert services.top_pages(today, today) == [("/", 2), ("/pricing", 1)]
