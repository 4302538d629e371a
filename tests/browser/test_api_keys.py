"""From sign-in to the first API call, in a real browser, then the usage page."""

import json
import time
import urllib.request

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = pytest.mark.browser


def test_create_a_key_call_the_api_and_see_the_call_on_the_usage_page(page, live_server, runner):
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    page.goto(live_server + "/login")
    page.get_by_label("E-mail address").fill("demo@twtapi.com")
    page.get_by_label("Password").fill("sample-customer-2025-twtapi")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Hello, Demo").wait_for()

    page.goto(live_server + "/account/keys")
    page.get_by_label("Name").fill("browser test")
    page.get_by_role("button", name="Create key").click()
    page.get_by_role("heading", name="Your new API key").wait_for()
    secret = page.locator("#new-secret").input_value()
    assert secret.startswith("twt_")

    request = urllib.request.Request(live_server + "/api/v1/users/jack", headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        assert json.loads(response.read())["data"]["username"] == "jack"
        remaining = int(response.headers["X-Credits-Remaining"])

    summary = page.get_by_text("1 call in the last 7 days · 1 credit · 0 errors")  # plural forms by babel
    for _ in range(50):  # metered in Redis, the call reaches the log within a moment: reload as a user would
        page.goto(live_server + "/account/usage?days=7")
        if summary.is_visible():
            break
        time.sleep(0.1)
    assert summary.is_visible()
    assert page.get_by_text(f"{remaining:,} credits").first.is_visible()
    for path in ["/account/usage", "/account/keys", "/docs/api"]:
        page.goto(live_server + path)
        serious = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in {"serious", "critical"}]
        assert serious == [], path
