"""The invoice PDF as a customer's reader shows it: rendered (PDFium) and read back (pypdf).
Whatever the buyer's name and address (long lines, a word longer than the column, more lines than a
page holds, Arabic, Chinese, an emoji), every line is on a page and within its margins, the total
is printed, the fonts are embedded, and the text comes back as written."""

import io
import re
import unicodedata
from datetime import date

import pypdfium2
from pypdf import PdfReader

from tests.billing.test_invoices import buy_and_pay, buyer
from tests.fixtures.visitor import submit

SELLER = {"SELLER_NAME": "TwtAPI GmbH", "SELLER_ADDRESS": "Invalidenstraße 1\n10115 Berlin\nGermany",
          "SELLER_COUNTRY": "DE", "SELLER_TAX_ID": "DE136695976", "TAX_RATES": "DE:19,FR:20"}
ARABIC_NAME = "شركة المثال للتجارة"
ARABIC_STREET = "شارع الملك فهد ١٢، الرياض"
CHINESE = "北京市朝阳区建国路 1 号 国贸大厦 A 座"
LONG_LINE = ("Industriegebiet Nord, Gewerbepark an der alten Ziegelei, Hinterhaus links, "
             "dritter Aufgang, Lieferanteneingang neben der Laderampe, bitte klingeln")
UNBROKEN = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft" * 2
EMOJI = "Café Ünïcødé 😀 ✓"
YEAR = date.today().year


def address() -> str:
    lines = [ARABIC_STREET, CHINESE, EMOJI] + [f"Postfach {n}" for n in range(1, 5)] + [LONG_LINE, UNBROKEN]
    lines += [f"Etage {n}, Raum {n}{n}" for n in range(1, 60)]
    text = "\n".join(lines)
    return text[:text.rindex("\n", 0, 1000)]  # the form takes 1,000 characters


def positions(reader: PdfReader) -> list[tuple[int, str, float, float]]:
    """Every piece of text with its page and where it starts."""
    found = []
    for number, page in enumerate(reader.pages):
        def visit(text, cm, tm, font, size, number=number):
            if text.strip():
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                found.append((number, text, x, y))
        page.extract_text(visitor_text=visit)
    return found


def fonts_used(reader: PdfReader) -> dict[str, bool]:
    """The fonts text is set in, each with whether the file embeds it."""
    fonts = {}
    for page in reader.pages:
        def visit(text, cm, tm, font, size):
            if text.strip() and font is not None:
                descendant = font.get("/DescendantFonts")
                holder = descendant[0].get_object() if descendant else font
                descriptor = holder["/FontDescriptor"].get_object() if "/FontDescriptor" in holder else {}
                name = str(font["/BaseFont"]).split("+")[-1]
                fonts[name] = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
        page.extract_text(visitor_text=visit)
    return fonts


def test_a_long_multiscript_address_is_wrapped_paginated_and_the_total_printed(make_app, outbox):
    app = make_app(**SELLER)
    client = buyer(app, outbox)
    saved = submit(client, "/account/billing", {"name": ARABIC_NAME, "address": address(), "country": "SA",
                                                 "tax_id": ""}, follow_redirects=True)
    assert "Billing details saved" in saved.get_data(as_text=True)
    buy_and_pay(client)
    response = client.get(f"/account/invoices/INV-{YEAR}-000001.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    body = response.get_data()
    reader = PdfReader(io.BytesIO(body))
    pages = len(reader.pages)
    assert pages >= 2  # more lines than one page holds: a second page, not lines below the edge

    # Every line starts on a page, inside the margins; the total is on the last page.
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    placed = positions(reader)
    outside = [(n, t, x, y) for n, t, x, y in placed if not (20 <= x <= width - 56 and 20 <= y <= height - 20)]
    assert outside == []
    totals = [(n, t) for n, t, _, _ in placed if t.strip() in ("Total", "$9.00")]
    assert {t.strip() for n, t in totals if n == pages - 1} == {"Total", "$9.00"}
    texts = [page.extract_text() for page in reader.pages]
    assert [re.search(r"(\d+)/(\d+)\s*$", t).groups() for t in texts] == [(str(n), str(pages))
                                                                          for n in range(1, pages + 1)]

    # Nothing is clipped: the margins of every rendered page are blank.
    document = pypdfium2.PdfDocument(body)
    for number in range(len(document)):
        image = document[number].render(scale=1).to_pil().convert("L")
        w, h = image.size
        for strip in ((w - 40, 0, w, h), (0, 0, 40, h), (0, 0, w, 30), (0, h - 20, w, h)):
            assert image.crop(strip).getextrema()[0] == 255, (number, strip)
    document.close()

    # The text comes back as written: Arabic (its joined forms read as letters), Chinese, emoji,
    # the long line wrapped at spaces and the long word cut, both whole when the lines are joined.
    text = unicodedata.normalize("NFKC", "\n".join(texts))
    for expected in (ARABIC_NAME, "شارع الملك فهد", "الرياض", "北京市朝阳区建国路", "国贸大厦", EMOJI):
        assert expected in text, expected
    joined = "".join(text.split())
    assert "".join(LONG_LINE.split()) in joined and UNBROKEN in joined
    assert LONG_LINE not in text  # wrapped: it does not fit on one line of the column
    assert text.count("Germany") == 1  # the seller's address ends with its country: printed once

    # Each script in a font that has it, embedded.
    fonts = fonts_used(reader)
    assert all(fonts.values()), fonts
    assert {name.split("-")[0] for name in fonts} == {"NotoSans", "NotoSansArabic", "NotoSansSC", "NotoEmoji"}


def test_a_chinese_invoice_sets_latin_in_a_latin_font_and_keeps_the_chinese(make_app, outbox):
    app = make_app(**SELLER)
    client = buyer(app, outbox, language="zh_Hans")
    submit(client, "/account/billing", {"name": "北京示例科技有限公司 (Beijing Example Tech Co., Ltd.)",
                                        "address": "Room 1201, 北京市朝阳区建国路 1 号", "country": "CN",
                                        "tax_id": "91110000600037341L"})
    buy_and_pay(client)
    body = client.get(f"/account/invoices/INV-{YEAR}-000001.pdf").get_data()
    reader = PdfReader(io.BytesIO(body))
    text = "\n".join(page.extract_text() for page in reader.pages)
    middle = float(reader.pages[0].mediabox.width) / 2
    buyer_column = "".join("".join(t.split()) for _, t, x, _ in positions(reader) if x >= middle - 1)
    for expected in ("北京示例科技有限公司(BeijingExampleTechCo.,Ltd.)", "Room1201,北京市朝阳区建国路1号",
                     "91110000600037341L"):
        assert expected in buyer_column, expected  # wrapped to the column, whole when its lines are joined
    assert "发票" in text and "入门版" in text
    fonts = fonts_used(reader)
    assert all(fonts.values()) and {name.split("-")[0] for name in fonts} == {"NotoSans", "NotoSansSC"}, fonts
    assert text.count("德国") == 1
