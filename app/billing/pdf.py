"""An invoice or credit note as a PDF (ReportLab), in any language a customer writes their name and
address in.

Fonts: Noto, embedded (subsets), from pinned PyPI packages so every machine has the same ones:
Noto Sans, Noto Sans Arabic and Hebrew, Noto Sans Symbols and Noto Emoji (``manimgx-fonts``) and
Noto Sans SC (``justmytype-intl-cjk``). Each run of text is set in the first of them that has its
characters, so a Chinese name switches only its own characters to the CJK font. Noto Sans SC is a
variable font whose default is Thin: a document gets its Regular instance of just the characters
it uses (fontTools; cached by character set). Arabic is set in its joined letter forms (Arabic
Presentation Forms, arabic-reshaper: what a PDF reader's text extraction maps back to the letters
by NFKC) and, like Hebrew, right to left by the Unicode bidirectional algorithm (python-bidi),
inside a left-to-right line. The fonts' ToUnicode maps name characters beyond the BMP (emoji, rare
CJK characters in names) as UTF-16, so they can be copied too.

Layout: every text is wrapped to its column (at spaces, between CJK characters, and inside a word
longer than the column), and pages break wherever the next line would not fit, so the amounts and
the total are always printed, whatever the length of an address. Each page after the first
repeats the title and number; every page is numbered "n/N".

``render(words)`` takes the words already translated (``billing.documents.words``).
"""

from __future__ import annotations

import io
import re
import unicodedata
import uuid
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path

import arabic_reshaper
import manimgx_fonts
from bidi import algorithm as bidi
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont, TTFontFile
from reportlab.pdfgen import canvas

_NOTO = Path(manimgx_fonts.__file__).parent
CJK_FILE = files("justmytype_intl_cjk") / "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"
CJK = "NotoSansSC"
ARABIC = "NotoSansArabic"
# In the order a character looks for its font: the first that has it sets it (CJK: see _cjk_font).
FONTS = (
    ("NotoSans", _NOTO / "NotoSans[wght].ttf"),
    (ARABIC, _NOTO / "NotoSansArabic[wght].ttf"),
    ("NotoSansHebrew", _NOTO / "NotoSansHebrew[wght].ttf"),
    (CJK, None),
    ("NotoSansSymbols", _NOTO / "NotoSansSymbols[wght].ttf"),
    ("NotoEmoji", _NOTO / "NotoEmoji[wght].ttf"),
)
NO_RUNS = frozenset({"NotoSansSymbols", "NotoEmoji"})  # a space after an emoji is set in the text's font
RESHAPER = arabic_reshaper.ArabicReshaper(configuration={"delete_harakat": False, "support_ligatures": True})
MARGIN = 56
LINE = 15  # the line height at 10 pt
FOOTER = 9
GAP = 16  # between a row's label and its amount
IDEOGRAPHS = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]")
TOKENS = re.compile(r"\S+\s*|\s+")


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """ReportLab's ToUnicode CMap, with each character as UTF-16BE as the PDF format requires:
    ReportLab writes a character beyond the BMP as five or six hex digits, which readers drop."""
    def utf16(code: int) -> str:
        return chr(code).encode("utf-16-be", "surrogatepass").hex().upper()
    return "\n".join([
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap", "/CIDSystemInfo",
        f"<< /Registry ({fontname})", f"/Ordering ({fontname})", "/Supplement 0", ">> def",
        f"/CMapName /{fontname} def", "/CMapType 2 def", "1 begincodespacerange", f"<00> <{len(subset) - 1:02X}>",
        "endcodespacerange", f"{len(subset)} beginbfchar",
        *(f"<{i:02X}> <{utf16(code)}>" for i, code in enumerate(subset)),
        "endbfchar", "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"])


ttfonts.makeToUnicodeCMap = _to_unicode_cmap


@cache
def _fonts() -> dict[str, frozenset[int]]:
    """Register the fonts (once a process, on the first document) and return each with the code
    points it has (Noto Sans SC: those of the full font)."""
    loaded = {}
    for name, path in FONTS:
        if path is None:
            loaded[name] = frozenset(TTFontFile(str(CJK_FILE)).charToGlyph)
            continue
        font = TTFont(name, str(path))
        pdfmetrics.registerFont(font)
        loaded[name] = frozenset(font.face.charToGlyph)
    return loaded


@lru_cache(maxsize=256)
def _cjk_instance(characters: frozenset[str]) -> bytes:
    """Noto Sans SC Regular with only ``characters`` (a few kilobytes)."""
    # Imported here, not at the top: fontTools' subsetter and instancer take 0.45 s to import,
    # which every process would pay at start for the few documents with Chinese in them.
    from fontTools import subset as ft_subset  # noqa: PLC0415
    from fontTools import ttLib  # noqa: PLC0415
    from fontTools.varLib import instancer  # noqa: PLC0415

    options = ft_subset.Options()
    options.layout_features, options.hinting, options.name_IDs, options.notdef_outline = [], False, ["*"], True
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(characters)))
    out = io.BytesIO()
    with ttLib.TTFont(str(CJK_FILE), lazy=True) as font:
        subsetter.subset(font)
        instancer.instantiateVariableFont(font, {"wght": 400}, inplace=True, updateFontNames=True)
        font.save(out)
    return out.getvalue()


def _joins(ch: str) -> bool:
    """Marks, joiners and variation selectors stay in the font of the character they belong to."""
    return unicodedata.category(ch) in ("Mn", "Me", "Cf") or "\ufe00" <= ch <= "\ufe0f"


def _levels(text: str) -> list[int]:
    """The embedding level of each character (even: left to right, odd: right to left), by the
    Unicode bidirectional algorithm; a line's direction is that of its first strong character."""
    storage = bidi.get_empty_storage()
    base = bidi.get_base_level(text)
    storage["base_level"], storage["base_dir"] = base, ("L", "R")[base]
    bidi.get_embedding_levels(text, storage)
    chars = list(storage["chars"])  # the rules below drop controls (X9): those keep their neighbour's level
    bidi.explicit_embed_and_overrides(storage)
    bidi.resolve_weak_types(storage)
    bidi.resolve_neutral_types(storage, False)
    bidi.resolve_implicit_levels(storage, False)
    kept = {id(ch) for ch in storage["chars"]}
    levels, last = [], base
    for ch in chars:
        last = ch["level"] if id(ch) in kept else last
        levels.append(last)
    return levels


def _clusters_reversed(text: str) -> str:
    """Right to left: the characters reversed, each keeping its marks after it."""
    clusters: list[str] = []
    for ch in text:
        if clusters and _joins(ch):
            clusters[-1] += ch
        else:
            clusters.append(ch)
    return "".join(reversed(clusters))


@dataclass(frozen=True)
class _Run:
    font: str  # the registered name
    text: str  # as drawn, left to right


class _Typesetter:
    """Lines as runs of one font and one direction, their widths, wrapping and drawing, with the
    fonts of one document (its own Noto Sans SC instance, registered under a name of its own)."""

    def __init__(self, text: str):
        self.coverage = dict(_fonts())
        self.names = {name: name for name in self.coverage}
        self.cjk = None
        used = frozenset(ch for ch in text if ord(ch) in self.coverage[CJK])
        if used:
            self.cjk = TTFont(f"{CJK}-{uuid.uuid4().hex}", io.BytesIO(_cjk_instance(used)))
            pdfmetrics.registerFont(self.cjk)
            self.names[CJK] = self.cjk.fontName
            self.coverage[CJK] = frozenset(self.cjk.face.charToGlyph)

    def close(self) -> None:
        if self.cjk is not None:
            self.cjk.unregister()

    def _font_of(self, ch: str, previous: str | None) -> str:
        if previous is not None and previous not in NO_RUNS:
            if _joins(ch) or (ord(ch) in self.coverage[previous] and not unicodedata.category(ch).startswith("L")):
                return previous  # a space or a digit does not split a run (nor an Arabic word's joining)
        if previous is not None and _joins(ch):
            return previous
        for name, covered in self.coverage.items():
            if ord(ch) in covered:
                return name
        return previous or FONTS[0][0]

    def _visual(self, font: str, text: str, rtl: bool) -> str:
        """A segment as drawn: Arabic in its joined forms where the font has them; right to left reversed."""
        if font == ARABIC:
            joined = RESHAPER.reshape(text)
            if all(ord(ch) in self.coverage[ARABIC] for ch in joined):
                text = joined
        return _clusters_reversed(text) if rtl else text

    def runs(self, text: str) -> list[_Run]:
        """The line as runs of one font and one direction, in the order they are drawn (left to right)."""
        if not text:
            return []
        segments: list[tuple[int, str, str]] = []  # (level, font, text) in logical order
        font = None
        for ch, level in zip(text, _levels(text), strict=True):
            font = self._font_of(ch, font if segments and segments[-1][0] == level else None)
            if segments and segments[-1][:2] == (level, font):
                segments[-1] = (level, font, segments[-1][2] + ch)
            else:
                segments.append((level, font, ch))
        # Rule L2: from the highest level to the lowest odd one, reverse every sequence at that
        # level or above; the characters of a right-to-left segment are reversed by _visual.
        highest = max(level for level, _, _ in segments)
        lowest_odd = min((level for level, _, _ in segments if level % 2), default=highest + 1)
        for level in range(highest, lowest_odd - 1, -1):
            i = 0
            while i < len(segments):
                if segments[i][0] < level:
                    i += 1
                    continue
                j = i
                while j < len(segments) and segments[j][0] >= level:
                    j += 1
                segments[i:j] = segments[i:j][::-1]
                i = j
        return [_Run(self.names[font], self._visual(font, chunk, bool(level % 2))) for level, font, chunk in segments]

    def width(self, text: str, size: float) -> float:
        """How wide ``text`` is drawn at ``size`` points."""
        return sum(pdfmetrics.stringWidth(run.text, run.font, size) for run in self.runs(text))

    def _cut(self, text: str, size: float, limit: float) -> int:
        """The most characters of ``text`` (at least one) that fit in ``limit``."""
        low, high = 1, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if self.width(text[:middle], size) <= limit:
                low = middle
            else:
                high = middle - 1
        return low

    def wrap(self, text: str, size: float, limit: float) -> list[str]:
        """``text`` as lines no wider than ``limit``: broken after spaces and between CJK
        characters, and a word longer than that where it must be."""
        lines = []
        for paragraph in (text or "").splitlines() or [""]:
            line, used = "", 0.0
            for token in _tokens(paragraph):
                if used + self.width(token.rstrip(), size) <= limit:
                    line, used = line + token, used + self.width(token, size)
                    continue
                if line.strip():
                    lines.append(line.rstrip())
                line = token.lstrip()
                while len(line.rstrip()) > 1 and self.width(line.rstrip(), size) > limit:
                    cut = self._cut(line, size, limit)
                    lines.append(line[:cut])
                    line = line[cut:]
                used = self.width(line, size)
            lines.append(line.rstrip())
        return lines

    def draw(self, pdf: canvas.Canvas, x: float, y: float, text: str, size: float, bold: bool = False) -> None:
        """Draw one line at (x, y), run by run."""
        for run in self.runs(text):
            pdf.saveState()  # the text render mode outlasts a text object: keep bold to this run
            line = pdf.beginText(x, y)
            line.setFont(run.font, size)
            if bold:  # the fonts' default instance is Regular: bold is the outline stroked as well
                pdf.setLineWidth(size * 0.04)
                line.setTextRenderMode(2)
            line.textOut(run.text)
            pdf.drawText(line)
            pdf.restoreState()
            x += pdfmetrics.stringWidth(run.text, run.font, size)


def _tokens(text: str) -> list[str]:
    """Where a line may break: after spaces, and between CJK characters."""
    out = []
    for token in TOKENS.findall(text):
        if IDEOGRAPHS.search(token):
            out.extend(token)
        else:
            out.append(token)
    return out


class _NumberedCanvas(canvas.Canvas):
    """Pages are kept until the end, so each can say "n/N"."""

    def __init__(self, *args, footer: str = "", typesetter: _Typesetter, **kwargs):
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

    def __init__(self, pdf: canvas.Canvas, typesetter: _Typesetter, header: str):
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
    typesetter = _Typesetter(_all_text(words))
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
