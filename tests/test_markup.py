"""Every page of a lived-in site, in English and Chinese, as the Nu Html Checker (vnu, the W3C's
validator, from npm's ``vnu-jar``; ``make dev-venv`` installs it) reads it: no error."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.site import lived_in

VNU = Path(__file__).resolve().parents[1] / ".venv/node/node_modules/vnu-jar/build/dist/vnu.jar"



@pytest.fixture
def app(make_app):
    return make_app(SITE_URL="http://localhost")  # passkeys show only under a domain name

@pytest.fixture
def saved_pages(app, runner, outbox, tmp_path):
    site = lived_in(app, runner, outbox)
    saved = {}
    for language, who, path, page in site.pages_in_each_language():
        name = f"{language}-{who}-{path.strip('/').replace('/', '_') or 'home'}.html"
        (tmp_path / name).write_text(page, encoding="utf-8")
        saved[name] = path
    return tmp_path, saved


@pytest.mark.skipif(shutil.which("java") is None or not VNU.exists(), reason="needs java and vnu.jar (make dev-venv)")
def test_every_page_is_valid_html_in_both_languages(saved_pages):
    folder, saved = saved_pages
    result = subprocess.run(["java", "-jar", str(VNU), "--errors-only", "--format", "json", str(folder)],
                            capture_output=True, text=True, timeout=300)
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    errors = sorted({f"{Path(m['url']).name}: {m['message']} ({m.get('extract', '').strip()[:80]})"
                     for m in messages if m.get("type") == "error"})
    assert errors == [], "\n".join(errors)
    assert len(saved) > 60  # every page of each role, twice
