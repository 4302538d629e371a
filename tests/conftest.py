"""Every test's fixtures, gathered from ``tests/fixtures/`` (one module per job):

- ``database``: the session's throw-away database (SQLite, or PostgreSQL with
  ``TEST_DATABASE_URL``), migrated once; every test starts from empty tables;
- ``mail``: a real SMTP server on 127.0.0.1 and the test's ``outbox``;
- ``apps``: ``make_app``, ``app``, ``client``, ``runner``, ``db``, gunicorn (``serve``), Redis
  (``redis_url``, ``redis_app``, ``own_redis``);
- ``visitor``: acting through the pages (``submit``, ``AuthActions``/``auth``, ``turn_on_2fa``);
- ``factories``: factory_boy factories and ``make_customer``.
"""

from tests.fixtures.apps import (  # noqa: F401 - fixtures and the report header, found by name
    app,
    client,
    db,
    make_app,
    own_redis,
    pytest_report_header,
    redis_app,
    redis_cluster,
    redis_url,
    runner,
    serve,
)
from tests.fixtures.database import (  # noqa: F401 - fixtures
    _empty_tables_after_each_test,
    _session_engine,
    database_factory,
    database_url,
)
from tests.fixtures.mail import outbox, smtp_server  # noqa: F401 - fixtures
from tests.fixtures.visitor import auth  # noqa: F401 - fixture
