"""Every test's fixtures, gathered from ``tests/fixtures/`` (one module per job):

- ``database``: the session's throw-away database (SQLite, or PostgreSQL with
  ``TEST_DATABASE_URL``), migrated once; every test starts from empty tables (rolled back, or
  emptied after a test that commits for real);
- ``mail``: a real SMTP server on 127.0.0.1 and the test's ``outbox``;
- ``apps``: ``app`` (the run's application, put back after each test), ``make_app`` (one with
  settings of the test's own), ``client``, ``runner``, ``db``, gunicorn (``serve``), Redis
  (``redis_url``, ``redis_app``, ``own_redis``), and the choice between rollback and emptying;
- ``visitor``: acting through the pages (``submit``, ``AuthActions``/``auth``, ``turn_on_2fa``);
- ``factories``: factory_boy factories and ``make_customer``.
"""

from tests.fixtures.apps import (  # noqa: F401 - fixtures and the report header, found by name
    _isolation,
    _shared_app,
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
    _migrated_database,
    _session_engine,
    database_factory,
    database_url,
)
from tests.fixtures.mail import outbox, smtp_server  # noqa: F401 - fixtures
from tests.fixtures.visitor import auth  # noqa: F401 - fixture
