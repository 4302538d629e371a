"""The per-key rate limit holds across processes that share Redis."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.fixtures.factories import make_customer

ROOT = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from app import create_app
    app = create_app("testing", {{"SQLALCHEMY_DATABASE_URI": {db!r}, "RATELIMIT_STORAGE_URI": {redis!r},
                                 "REDIS_URL": {redis!r}, "RATELIMIT_KEY_PREFIX": {prefix!r}, "MAIL_URL": None,
                                 "MAIL_DIR": {maildir!r}}})
    client = app.test_client()
    codes = [client.get("/api/v1/users/jack", headers={{"Authorization": "Bearer {secret}"}}).status_code
             for _ in range(6)]
    print(",".join(map(str, codes)))
""")


def test_two_processes_share_one_window(make_app, database_url, redis_url, tmp_path):
    prefix = f"shared-{os.getpid()}-{tmp_path.name}"
    app = make_app(RATELIMIT_STORAGE_URI=redis_url, REDIS_URL=redis_url, RATELIMIT_KEY_PREFIX=prefix)
    _, secret = make_customer(app, credits=1000, rate_limit=8)
    script = WORKER.format(root=str(ROOT), db=database_url, redis=redis_url, prefix=prefix, secret=secret,
                           maildir=str(tmp_path / "mail"))
    workers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    codes = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        codes += [int(c) for c in out.strip().splitlines()[-1].split(",")]
    assert codes.count(200) == 8  # 12 calls from two processes, one window of 8
    assert codes.count(429) == 4
