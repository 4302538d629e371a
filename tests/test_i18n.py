"""Languages: locale choice, <html lang>, and a complete, current Chinese catalogue."""

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = sorted((ROOT / "translations").glob("*/LC_MESSAGES/messages.po"))


def test_english_without_any_language_header(client):
    body = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in body
    assert "How credits work" in body


@pytest.mark.parametrize("header", ["zh-CN", "zh", "zh-Hans-CN,en;q=0.5", "zh-TW", "fr-FR,zh;q=0.8,en;q=0.5"])
def test_chinese_for_a_chinese_accept_language(client, header):
    body = client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in body
    assert "积分如何运作" in body


@pytest.mark.parametrize("header", ["en-US,en;q=0.9,zh-CN;q=0.8", "de-DE", "*"])
def test_english_when_english_comes_first_or_nothing_matches(client, header):
    body = client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)
    assert '<html lang="en">' in body


def test_a_chinese_catalogue_exists():
    assert [p.parent.parent.name for p in CATALOGUES] == ["zh_Hans"]


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_every_message_is_translated(po_path):
    with po_path.open("rb") as f:
        catalogue = read_po(f)
    untranslated = [m.id for m in catalogue if m.id and (not m.string or m.fuzzy)]
    assert untranslated == []


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_catalogue_holds_every_message_in_the_code(po_path, tmp_path):
    """Extract messages afresh: a string added to code or templates but not to the catalogue fails."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "."],
        cwd=ROOT, check=True, timeout=120,
    )
    with pot.open("rb") as f:
        extracted = {m.id for m in read_po(f) if m.id}
    with po_path.open("rb") as f:
        catalogued = {m.id for m in read_po(f) if m.id}
    assert sorted(extracted - catalogued) == []


def test_placeholders_survive_translation():
    import re

    for po_path in CATALOGUES:
        with po_path.open("rb") as f:
            for message in read_po(f):
                if not message.id:
                    continue
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                names = set(re.findall(r"%\((\w+)\)s", ids[-1]))
                for string in strings:
                    assert names == set(re.findall(r"%\((\w+)\)s", string)), message.id


def test_compiled_catalogue_is_used(client):
    """make test compiles the .po files; the .mo must be there and loaded."""
    assert (ROOT / "translations/zh_Hans/LC_MESSAGES/messages.mo").exists()
    body = client.get("/no-such-page", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "页面未找到" in body


def test_counts_take_their_plural_form(app, outbox):
    from tests.fixtures.factories import make_customer
    from tests.fixtures.visitor import PASSWORD_FOR_TESTS, AuthActions

    make_customer(app, "one@example.com", credits=1)
    client = app.test_client()
    AuthActions(client, outbox).login("one@example.com", PASSWORD_FOR_TESTS)
    page = client.get("/account").get_data(as_text=True)
    assert "1 credit<" in page and "1 credits" not in page
    assert "10,000 credits" in client.get("/pricing").get_data(as_text=True)
    assert "1 积分" in client.get("/account", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)


def test_templates_translate_once_per_request_and_a_forced_locale_gets_its_own_catalogue(app):
    """The templates' gettext keeps one catalogue per request; mail rendered in the recipient's
    language (force_locale) inside a request gets that language, and the page keeps its own."""
    from flask import render_template_string
    from flask_babel import force_locale, refresh

    page = "{{ _('Pricing') }}"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert render_template_string(page) == "Pricing"
        with force_locale("zh_Hans"):
            assert render_template_string(page) == "价格"
        assert render_template_string(page) == "Pricing"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert render_template_string(page) == "价格"
        refresh()  # a language changed during the request takes effect at once
        assert render_template_string(page) == "价格"


def test_template_prices_are_formatted_as_flask_babel_formats_them_in_each_locale(app):
    from flask import render_template_string
    from flask_babel import format_currency

    for language in ("en", "zh-CN"):
        with app.test_request_context(headers={"Accept-Language": language}):
            for amount, currency in ((9, "USD"), (49.0, "USD"), (0.15, "USD"), (199, "CNY")):
                shown = render_template_string("{{ format_currency(a, c) }}", a=amount, c=currency)
                assert shown == format_currency(amount, currency), (language, amount)


def test_dates_and_times_read_in_the_visitors_locale_with_the_zone(app):
    from datetime import date, datetime

    from flask_babel import force_locale

    from app.i18n import format_day, format_moment

    moment = datetime(2026, 12, 1, 17, 26)
    with app.test_request_context():
        assert format_moment(moment, "short") == "12/1/26, 5:26\u202fPM UTC"  # CLDR puts a narrow space before PM
        assert format_day("2027-01-01") == format_day(date(2027, 1, 1)) == "January 1, 2027"
        assert format_day(None) == "" and format_moment(None) == ""
        with force_locale("zh_Hans"):
            assert format_moment(moment, "short").endswith("17:26 UTC")
            assert format_day("2027-01-01") == "2027年1月1日"
