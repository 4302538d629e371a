"""The API changelog: Markdown files shown newest first in the visitor's language (English when a
change has no translation), and the same entries as an Atom feed a reader can follow."""

import re
import xml.etree.ElementTree as ET

import pytest

from app.pages import releases

ATOM = "{http://www.w3.org/2005/Atom}"


def test_the_page_lists_changes_newest_first_with_their_dates(client):
    body = client.get("/changelog").get_data(as_text=True)
    titles = re.findall(r'<h2 id="([0-9a-z-]+)-title">', body)
    assert titles == sorted(titles, reverse=True) and len(titles) >= 3
    assert 'type="application/atom+xml" href="/changelog.atom"' in body
    assert '<time datetime="2026-12-01">1 December 2026</time>' in body or "December 1, 2026" in body


def test_in_chinese_each_change_is_in_chinese(client):
    client.get("/language/zh_Hans")
    body = client.get("/changelog").get_data(as_text=True)
    assert "API 更新日志" in body and "按请求 ID 查找任意调用" in body and "2026年12月1日" in body


def test_a_change_without_a_translation_shows_in_english_marked_as_such(tmp_path):
    (tmp_path / "2026-12-02-new.en.md").write_text("Title: Only in English\n\nText.", encoding="utf-8")
    (tmp_path / "2026-12-01-old.en.md").write_text("Title: Old\n\nText.", encoding="utf-8")
    (tmp_path / "2026-12-01-old.zh_Hans.md").write_text("Title: 旧\n\n文字。", encoding="utf-8")
    shown = releases.entries("zh_Hans", tmp_path)
    assert [(e.title, e.locale) for e in shown] == [("Only in English", "en"), ("旧", "zh_Hans")]


def test_a_file_without_a_title_or_a_dated_name_is_refused(tmp_path):
    (tmp_path / "notes.en.md").write_text("Title: x\n", encoding="utf-8")
    with pytest.raises(releases.MalformedEntry, match="YYYY-MM-DD"):
        releases.entries("en", tmp_path)
    (tmp_path / "notes.en.md").unlink()
    (tmp_path / "2026-12-01-x.en.md").write_text("No title here.\n", encoding="utf-8")
    with pytest.raises(releases.MalformedEntry, match="Title"):
        releases.entries("en", tmp_path)


def test_the_atom_feed_carries_every_entry_with_a_permanent_link(client, app):
    response = client.get("/changelog.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)  # noqa: S314 - our own feed, in a test
    site = app.config["SITE_URL"]
    assert feed.find(f"{ATOM}id").text == f"{site}/changelog"
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == f"{site}/changelog.atom"
    entries = feed.findall(f"{ATOM}entry")
    with app.test_request_context():
        expected = releases.entries("en")
    assert [e.find(f"{ATOM}id").text for e in entries] == [f"{site}/changelog#{x.slug}" for x in expected]
    first = entries[0]
    assert first.find(f"{ATOM}title").text == expected[0].title
    assert first.find(f"{ATOM}content").get("type") == "html" and "<li>" in first.find(f"{ATOM}content").text
    assert feed.find(f"{ATOM}updated").text.startswith(expected[0].published.isoformat())
