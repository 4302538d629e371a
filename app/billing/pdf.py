"""An invoice or credit note as a PDF (ReportLab), in any language a customer writes their name and
address in (the fonts, scripts and directions: ``billing.typeset``).

Layout: every text is wrapped to its column (at spaces, between CJK characters, and inside a word
longer than the column), and pages break wherever the next line would not fit, so the amounts and
the total are always printed, whatever the length of an address. Each page after the first
repeats the title and number; every page is numbered "n/N".

``render(words)`` takes the words already translated (``billing.documents.words``).
"""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from app.billing.typeset import Typesetter

MARGIN = 56
LINE = 15  # the line height at 10 pt
FOOTER = 9
GAP = 16  # between a row's label and its amount


class _NumberedCanvas(canvas.Canvas):
    """Pages are kept until the end, so each can say "n/N"."""

    def __init__(self, *args, footer: str = "", typesetter: Typesetter, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages = []
        self._footer = footer
        self._typesetter = typesetter

    def showPage(self):  # noqa: N802 - ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for number, state in enumerate(self._pages, 1):
            self.__dict__.update(state)
            self._typesetter.draw(self, MARGIN, MARGIN - 2 * FOOTER, f"{self._footer}  {number}/{total}", FOOTER)
            super().showPage()
        super().save()


class _Layout:
    """A cursor down the pages: a line that does not fit goes to the next page."""

    def __init__(self, pdf: canvas.Canvas, typesetter: Typesetter, header: str):
        self.pdf = pdf
        self.type = typesetter
        self.width, self.height = A4
        self.header = header
        self.y = self.height - MARGIN
        self.right = self.width - MARGIN

    def new_page(self) -> None:
        self.pdf.showPage()
        self.y = self.height - MARGIN
        self.type.draw(self.pdf, MARGIN, self.y, self.header, FOOTER)
        self.y -= 2 * LINE

    def room(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.new_page()

    def text(self, text: str, size: float = 10, bold: bool = False) -> None:
        """Wrapped to the margins, breaking pages as needed."""
        for line in self.type.wrap(text, size, self.right - MARGIN):
            self.room(LINE * size / 10)
            self.type.draw(self.pdf, MARGIN, self.y, line, size, bold)
            self.y -= LINE * size / 10

    def columns(self, left: list[tuple[str, bool]], right: list[tuple[str, bool]], split: float) -> None:
        """Two blocks side by side, line by line, each wrapped to its column."""
        def lines(block, limit):
            return [(line, bold) for text, bold in block for line in self.type.wrap(text, 10, limit)]
        left_lines = lines(left, split - MARGIN - GAP)
        right_lines = lines(right, self.right - split)
        for n in range(max(len(left_lines), len(right_lines))):
            self.room(LINE)
            for x, block in ((MARGIN, left_lines), (split, right_lines)):
                if n < len(block):
                    self.type.draw(self.pdf, x, self.y, block[n][0], 10, block[n][1])
            self.y -= LINE

    def row(self, label: str, amount: str, bold: bool) -> None:
        """A label, wrapped beside its amount; the whole row on one page."""
        amount_width = self.type.width(amount, 10)
        lines = self.type.wrap(label, 10, self.right - MARGIN - amount_width - GAP)
        self.room(LINE * len(lines))
        self.type.draw(self.pdf, self.right - amount_width, self.y, amount, 10, bold)
        for line in lines:
            self.type.draw(self.pdf, MARGIN, self.y, line, 10, bold)
            self.y -= LINE

    def rule(self) -> None:
        self.room(LINE)
        self.pdf.setLineWidth(0.5)
        self.pdf.line(MARGIN, self.y + 4, self.right, self.y + 4)
        self.y -= LINE * 0.6

    def gap(self, n: float = 1) -> None:
        self.y -= LINE * n


def _block(heading: str, text: str) -> list[tuple[str, bool]]:
    return [(heading, True)] + [(line, False) for line in (text or "").splitlines() if line.strip()]


def _all_text(words: dict) -> str:
    parts = [words["title"], words["number"], words["from"], words["to"], words["seller"]["block"], words["buyer"]]
    parts += [f"{label}: {value}" for label, value in words["facts"]]
    parts += [f"{label} {amount}" for label, amount, _ in words["rows"]] + list(words["notes"])
    return "\n".join(parts) + "0123456789/ "


def render(words: dict) -> bytes:
    """The PDF of one document: ``words`` holds its title, number, the parties, the rows of
    amounts and the notes, each already in the document's language (see ``documents.words``)."""
    typesetter = Typesetter(_all_text(words))
    try:
        out = io.BytesIO()
        header = f"{words['title']} {words['number']}"
        pdf = _NumberedCanvas(out, pagesize=A4, invariant=True, footer=header, typesetter=typesetter)
        pdf.setTitle(header)
        pdf.setAuthor(words["seller"]["name"])
        page = _Layout(pdf, typesetter, header)
        page.text(words["title"], 18, bold=True)
        page.text(words["number"], 12)
        page.gap(0.5)
        for label, value in words["facts"]:
            page.text(f"{label}: {value}")
        page.gap()
        page.columns(_block(words["from"], words["seller"]["block"]), _block(words["to"], words["buyer"]),
                     page.width / 2)
        page.gap()
        page.rule()
        for label, amount, bold in words["rows"]:
            page.row(label, amount, bold)
        page.rule()
        page.gap(0.5)
        for note in words["notes"]:
            page.text(note, 9)
        pdf.showPage()
        pdf.save()
        return out.getvalue()
    finally:
        typesetter.close()
