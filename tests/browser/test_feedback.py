"""Every action answered, in a real browser: copy buttons where JavaScript runs (the text stays
selectable where it does not), the recovery codes as a downloaded text file, and a revoke that
asks first and then says what happened."""

import re

import pytest

from tests.browser.test_account_shell import signed_in

pytestmark = pytest.mark.browser


def new_key(page, live_server, name):
    page.goto(live_server + "/account/keys")
    page.locator("input[name=name]").fill(name)
    page.locator("form[action$='/account/keys'] button[type=submit]").click()
    page.locator("#new-secret").wait_for()
    return page.locator("#new-secret").input_value()


def test_copy_buttons_copy_the_key_and_the_command(browser, live_server, runner):
    context, page = signed_in(browser, live_server, runner, 1280)
    try:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
        secret = new_key(page, live_server, "copy test")
        page.get_by_role("button", name="Copy the key").click()
        page.get_by_role("button", name="Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == secret
        page.get_by_role("button", name="Copy the command").click()
        assert page.evaluate("navigator.clipboard.readText()").startswith(f'curl -H "Authorization: Bearer {secret}"')
    finally:
        context.close()


def test_without_javascript_there_is_no_dead_button_and_the_key_is_selectable(browser, live_server, runner):
    context, page = signed_in(browser, live_server, runner, 390, javascript=False)
    try:
        secret = new_key(page, live_server, "no js")
        assert secret.startswith("twt_")
        assert page.locator(".copy-button").count() == 2 and not page.locator(".copy-button").first.is_visible()
        assert page.locator("#new-secret").get_attribute("readonly") is not None  # select and copy by hand
    finally:
        context.close()


def test_revoking_asks_first_without_javascript_then_says_what_happened(browser, live_server, runner):
    context, page = signed_in(browser, live_server, runner, 1280)
    try:
        new_key(page, live_server, "CI")
        page.goto(live_server + "/account/keys")
        page.get_by_role("button", name="Revoke CI").click()
        page.get_by_role("heading", name="Revoke the key “CI”?").wait_for()
        page.get_by_role("button", name="Revoke the key").click()
        flash = page.locator(".flash-success")
        assert re.fullmatch(r"Key “CI” \(twt_[\w-]+…\) revoked; calls with it now get 401\.", flash.inner_text())
    finally:
        context.close()


def test_recovery_codes_download_as_a_text_file(browser, live_server, runner, tmp_path):
    from tests.fixtures.visitor import totp_now

    context, page = signed_in(browser, live_server, runner, 1280)
    try:
        page.goto(live_server + "/account/security/2fa")
        page.locator("input[name=code]").fill(totp_now(page.locator("code.secret").inner_text()))
        page.locator("form[action$='/2fa/enable'] button[type=submit]").click()
        shown = page.locator(".recovery-codes code").all_inner_texts()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download as a text file").click()
        assert download.value.suggested_filename == "twtapi-recovery-codes.txt"
        saved = tmp_path / "codes.txt"
        download.value.save_as(saved)
        text = saved.read_text(encoding="utf-8")
        assert "demo@twtapi.com" in text and [line for line in text.splitlines() if line in shown] == shown
        assert len(shown) == 10
    finally:
        context.close()
