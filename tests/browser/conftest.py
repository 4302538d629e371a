"""Browser fixtures: gunicorn serving the app on 127.0.0.1, and headless Debian Chromium.

Chromium comes from Debian's ``chromium`` package (``.ci/run`` installs it); Playwright's own
browser download is not reachable from these machines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.crypto import development_key
from tests.fixtures.settings import served_environment
from tests.server import free_port, gunicorn

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def live_server(database_url, tmp_path_factory, smtp_server):
    """The real app under gunicorn on 127.0.0.1, on the session's migrated database."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = {
        **served_environment(),
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "browser-tests-only-" + "x" * 24,
        # The test apps' field-encryption key: a test reads (and staff act on) what the browser wrote.
        "DATA_ENCRYPTION_KEYS": development_key("testing-only-not-secret"),
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_server[0].port}",
        "MAIL_DELIVERY": "inline",  # journeys read their mail right after the click
        # Its own Redis keys: metering state of an earlier run's accounts must not meet this run's.
        "RATELIMIT_KEY_PREFIX": f"twtapi-browser-{port}-{os.getpid()}",
    }
    with gunicorn(env, log_path, workers=1, threads=4, port=port) as url:
        yield url


@pytest.fixture(scope="session")
def playwright():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def cookie_blocking_context(playwright, tmp_path):
    """A Chromium profile whose settings block every cookie, as a privacy-minded visitor may."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(
        json.dumps({"profile": {"default_content_setting_values": {"cookies": 2}}})
    )
    args = [a for a in CHROMIUM_ARGS if a != "--headless"]
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=args
    )
    yield context
    context.close()


@pytest.fixture
def context(browser):
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page
