"""An invoice or credit note as a PDF (ReportLab). Text in Chinese (or any script beyond Latin-1)
is set in ReportLab's STSong-Light, a CID font every PDF reader maps to a CJK font of its own, so
no font file ships with us and the text stays extractable; the rest in Helvetica.

``render(document, lines)`` takes the words already translated (``billing.documents.lines``).
"""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
MARGIN = 56
LINE = 15


def _font(text: str, bold: bool = False) -> str:
    if any(ord(ch) > 0xFF for ch in text):
        return CJK_FONT
    return LATIN_BOLD if bold else LATIN_FONT


class _Page:
    """A cursor down one A4 page (an invoice fits on one)."""

    def __init__(self, pdf: canvas.Canvas):
        self.pdf = pdf
        self.width, height = A4
        self.y = height - MARGIN

    def text(self, text: str, size: int = 10, bold: bool = False, x: float = MARGIN, right: bool = False,
             advance: bool = True) -> None:
        self.pdf.setFont(_font(text, bold), size)
        if right:
            self.pdf.drawRightString(self.width - MARGIN, self.y, text)
        else:
            self.pdf.drawString(x, self.y, text)
        if advance:
            self.y -= LINE * size / 10

    def lines(self, text: str, size: int = 10, x: float = MARGIN) -> None:
        for line in (text or "").splitlines():
            self.text(line, size, x=x)

    def gap(self, n: float = 1) -> None:
        self.y -= LINE * n

    def rule(self) -> None:
        self.pdf.line(MARGIN, self.y + 4, self.width - MARGIN, self.y + 4)
        self.gap(0.6)


def render(words: dict) -> bytes:
    """The PDF of one document: ``words`` holds its title, number, the parties, the rows of
    amounts and the notes, each already in the document's language (see ``documents.words``)."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=True)
    pdf.setTitle(f"{words['title']} {words['number']}")
    pdf.setAuthor(words["seller"]["name"])
    page = _Page(pdf)
    page.text(words["title"], 18, bold=True)
    page.text(words["number"], 12)
    page.gap(0.5)
    for label, value in words["facts"]:
        page.text(f"{label}: {value}")
    page.gap()
    top = page.y
    page.text(words["from"], bold=True)
    page.lines(words["seller"]["block"])
    left_end = page.y
    page.y = top
    column = page.width / 2
    page.text(words["to"], bold=True, x=column)
    page.lines(words["buyer"], x=column)
    page.y = min(page.y, left_end)
    page.gap()
    page.rule()
    for label, amount, bold in words["rows"]:
        page.text(label, bold=bold, advance=False)
        page.text(amount, bold=bold, right=True)
    page.rule()
    page.gap(0.5)
    for note in words["notes"]:
        page.text(note, 9)
    pdf.showPage()
    pdf.save()
    return out.getvalue()
