"""Text set as a reader of any language expects, for the invoice PDF (``billing.pdf``).

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

``Typesetter(text)`` holds the fonts of one document: it measures, wraps and draws lines.
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


class Typesetter:
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
