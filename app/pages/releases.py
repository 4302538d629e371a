"""The API changelog: one Markdown file per change in ``app/pages/changelog/``, named
``YYYY-MM-DD-slug.<locale>.md``, with a ``Title:`` line first (Markdown's meta extension).
Entries are read once per process, newest first; a page in a language without its own file shows
the English one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import markdown as md
from feedgen.feed import FeedGenerator
from markupsafe import Markup

FOLDER = Path(__file__).parent / "changelog"
NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-([a-z0-9-]+)\.([A-Za-z_]+)\.md$")
FALLBACK = "en"


@dataclass(frozen=True)
class Entry:
    slug: str
    published: date
    locale: str
    title: str
    html: Markup


class MalformedEntry(ValueError):
    """A changelog file without a date-slug-locale name or a title."""


def _read(path: Path) -> Entry:
    match = NAME.match(path.name)
    if match is None:
        raise MalformedEntry(f"{path.name}: name it YYYY-MM-DD-slug.<locale>.md")
    converter = md.Markdown(extensions=["meta"])
    html = converter.convert(path.read_text(encoding="utf-8"))
    title = " ".join(converter.Meta.get("title", []))
    if not title:
        raise MalformedEntry(f"{path.name}: the first line must be 'Title: …'")
    day, slug, locale = match.groups()
    return Entry(slug=f"{day}-{slug}", published=date.fromisoformat(day), locale=locale, title=title,
                 html=Markup(html))  # noqa: S704 - our own, reviewed files


@cache
def _all(folder: Path = FOLDER) -> dict[tuple[str, str], Entry]:
    return {(e.slug, e.locale): e for e in map(_read, sorted(folder.glob("*.md")))}


def entries(locale: str, folder: Path = FOLDER) -> list[Entry]:
    """Every change, newest first, each in ``locale`` when it has that file, else in English."""
    found = _all(folder)
    shown = []
    for slug in sorted({slug for slug, _ in found}, reverse=True):
        entry = found.get((slug, locale)) or found.get((slug, FALLBACK))
        if entry is not None:
            shown.append(entry)
    return shown


def atom(shown: list[Entry], *, title: str, author: str, page_url: str, feed_url: str, language: str) -> bytes:
    """The entries as an Atom feed (RFC 4287): each entry's id is its permanent link on the page."""
    feed = FeedGenerator()
    feed.id(page_url)
    feed.title(title)
    feed.author({"name": author})
    feed.link(href=page_url, rel="alternate")
    feed.link(href=feed_url, rel="self")
    feed.language(language)
    feed.updated(_moment(shown[0].published) if shown else datetime(2026, 1, 1, tzinfo=UTC))
    for entry in reversed(shown):  # feedgen puts each new entry first
        item = feed.add_entry()
        item.id(f"{page_url}#{entry.slug}")
        item.title(entry.title)
        item.link(href=f"{page_url}#{entry.slug}")
        item.published(_moment(entry.published))
        item.updated(_moment(entry.published))
        item.content(str(entry.html), type="html")
    return feed.atom_str(pretty=True)


def _moment(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
