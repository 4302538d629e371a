"""The authenticator-app QR code as a phone's camera sees it: a Chromium screenshot of the page
(not the SVG on its own), decoded with zxing-cpp, in the light and the dark colour scheme, at a
desktop and a phone width. The decoded URI must name this site, the account and the key the page
prints beside the code."""

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import zxingcpp
from PIL import Image

from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import PASSWORD_FOR_TESTS

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("scheme, width", [("light", 1280), ("dark", 1280), ("light", 390), ("dark", 390)])
def test_the_enrolment_qr_code_in_a_screenshot_of_the_page_scans(browser, live_server, app, tmp_path, scheme, width):
    email = f"qr.{scheme}.{width}@example.com"
    make_customer(app, email=email)
    context = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(live_server + "/login")
        page.locator("input[name=email]").fill(email)
        page.locator("input[name=password]").fill(PASSWORD_FOR_TESTS)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(live_server + "/account/security/2fa")
        figure = page.locator("figure.qr")
        figure.scroll_into_view_if_needed()
        shot = tmp_path / f"qr-{scheme}-{width}.png"
        page.screenshot(path=str(shot))  # the viewport, as the person sees it
        secret = page.locator("code.secret").inner_text().strip()
    finally:
        context.close()

    found = zxingcpp.read_barcodes(Image.open(shot).convert("RGB"))
    qr = [r for r in found if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(qr) == 1, f"no QR code found in the {scheme} screenshot at {width} px"
    uri = urlsplit(qr[0].text)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    query = parse_qs(uri.query)
    site = app.config["SITE_NAME"]
    assert unquote(uri.path) == f"/{site}:{email}"  # the label: issuer and account
    assert query["issuer"] == [site] and query["secret"] == [secret]
