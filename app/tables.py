"""Data tables that read on a phone: each body cell carries its column's heading as ``data-label``,
so the stylesheet can stack a row into labelled lines on a narrow screen (CSS only, no script).

Used as the ``stacked`` template filter around a ``<table>`` and on the Markdown policies' tables.
The tables are our own markup (or Markdown's), so a scan of their tags is enough; a cell heading
is the text of its ``<th>`` without tags.
"""

from __future__ import annotations

import html
import re

from markupsafe import Markup

_TABLE = re.compile(r"<table\b(.*?)</table>", re.S)
_HEAD = re.compile(r"<thead\b.*?</thead>", re.S)
_HEAD_CELL = re.compile(r"<th\b([^>]*)>(.*?)</th>", re.S)
_ROW = re.compile(r"<tr\b.*?</tr>", re.S)
_CELL = re.compile(r"<(td|th)\b([^>]*)>(.*?)</\1>", re.S)
_TAG = re.compile(r"<[^>]+>")
_SPAN = re.compile(r'colspan="(\d+)"')


def _headings(thead: str) -> list[str]:
    labels = []
    for attrs, inner in _HEAD_CELL.findall(thead):
        text = " ".join(html.unescape(_TAG.sub(" ", inner)).split())
        span = _SPAN.search(attrs)
        labels.extend([text] * (int(span.group(1)) if span else 1))
    return labels


def _label_row(row: str, labels: list[str]) -> str:
    """Each cell gets its heading as ``data-label`` and its content wrapped in one ``div.cell``
    (so a stacked cell is exactly two boxes: the label and the value)."""
    column = 0

    def add(match: re.Match) -> str:
        nonlocal column
        tag, attrs, inner = match.groups()
        label = labels[column] if column < len(labels) else ""
        span = _SPAN.search(attrs)
        column += int(span.group(1)) if span else 1
        return f'<{tag}{attrs} data-label="{html.escape(label, quote=True)}"><div class="cell">{inner}</div></{tag}>'

    return _CELL.sub(add, row)


def _label_table(match: re.Match) -> str:
    table = match.group(0)
    head = _HEAD.search(table)
    if head is None:
        return table
    labels = _headings(head.group(0))
    body = table[head.end():]
    body = _ROW.sub(lambda row: _label_row(row.group(0), labels), body)
    opening = table[:head.start()]
    if 'class="' in opening.split(">", 1)[0]:
        opening = opening.replace('class="', 'class="stack ', 1)
    else:
        opening = opening.replace("<table", '<table class="stack"', 1)
    return opening + head.group(0) + body


def stacked(markup: str) -> Markup:
    """``markup`` with every table's body cells labelled by their column heading."""
    return Markup(_TABLE.sub(_label_table, str(markup)))  # noqa: S704 - our templates' output, labels escaped
