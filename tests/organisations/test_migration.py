"""The organisations migration (b8e2c4f6a1d3) on a database holding accounts of the old schema:
each account becomes its own personal organisation with the same id, what it owned follows
without a row changing value, later organisations get ids of their own, and a downgrade gives
the accounts their balances and settings back. On SQLite and PostgreSQL alike."""

from datetime import date, datetime

import flask_migrate
from sqlalchemy import MetaData, delete, insert, inspect, select, text

from app import create_app
from app.extensions import db as _db
from tests.fixtures.database import required_values

BEFORE = "a7d3e9b1c5f2"
REVISION = "b8e2c4f6a1d3"
OWNED = ("api_keys", "credit_ledger", "orders", "alert_recipients", "billing_details", "api_calls", "usage_daily")
MOVED = ("credit_balance", "low_credit_notified", "low_credit_notified_at", "alert_thresholds", "alert_levels",
         "monthly_spend_limit")
JOINED = datetime(2026, 11, 2, 9, 30)
WARNED = datetime(2026, 12, 3, 8, 0)
CALLED = datetime(2026, 12, 5, 10, 0)
CLOSED = datetime(2026, 12, 1, 7, 0)

# Two customers with money and settings, and an account closed and erased before the upgrade.
ACCOUNTS = {
    7: {"email": "alice@example.com", "credit_balance": 1250, "low_credit_notified": 500,
        "low_credit_notified_at": WARNED, "alert_thresholds": "25%,10%", "alert_levels": "900,360",
        "monthly_spend_limit": 5000},
    12: {"email": "bob@example.com", "credit_balance": 40, "low_credit_notified": None,
         "low_credit_notified_at": None, "alert_thresholds": "500,100", "alert_levels": "500,100",
         "monthly_spend_limit": None},
    3: {"email": "erased-3@invalid", "credit_balance": 0, "low_credit_notified": None, "low_credit_notified_at": None,
        "alert_thresholds": None, "alert_levels": None, "monthly_spend_limit": None, "closed_at": CLOSED,
        "erased_at": CLOSED},
}


def _tables(*names):
    tables = MetaData()
    tables.reflect(bind=_db.engine, only=list(names))
    return tables.tables


def _add(conn, table, **values):
    return conn.execute(insert(table).values(**required_values(table, **values))).inserted_primary_key[0]


def _old_accounts_with_everything():
    """At the previous revision: the accounts, and what each owns in every table that moves."""
    t = _tables("users", *OWNED, "invoices")
    with _db.engine.begin() as conn:
        for user_id, account in ACCOUNTS.items():
            _add(conn, t["users"], id=user_id, created_at=JOINED, **account)
        alice_key = _add(conn, t["api_keys"], user_id=7, name="Live", secret_hash="a" * 64)
        alice_test_key = _add(conn, t["api_keys"], user_id=7, name="Test", secret_hash="b" * 64)
        bob_key = _add(conn, t["api_keys"], user_id=12, name="Bob's", secret_hash="c" * 64)
        _add(conn, t["credit_ledger"], user_id=7, kind="purchase", amount=1500, source_key="order:1")
        _add(conn, t["credit_ledger"], user_id=7, kind="usage", amount=-250, call_id="r1")
        _add(conn, t["credit_ledger"], user_id=12, kind="grant", amount=40)
        order = _add(conn, t["orders"], user_id=7, reference="ORD-AAAA-0001", credits=1500, status="paid")
        _add(conn, t["orders"], user_id=None, reference="ORD-ERAS-0002", credits=100, status="paid")
        _add(conn, t["invoices"], order_id=order, number="INV-2026-000001", kind="invoice")
        _add(conn, t["billing_details"], user_id=7, name="Alice Ltd", address="1 Road", country="FR")
        _add(conn, t["alert_recipients"], user_id=12, email="ops@example.com", token_hash=None)
        for request_id, user_id, key_id, status in (("r1", 7, alice_key, 200), ("r2", 7, alice_key, 503),
                                                    ("r3", 12, bob_key, 200), ("r4", 12, None, 200)):
            _add(conn, t["api_calls"], request_id=request_id, user_id=user_id, key_id=key_id, status=status,
                 created_at=CALLED, ip_truncated=False)
        _add(conn, t["usage_daily"], day=date(2026, 12, 5), user_id=7, key_id=alice_key, endpoint="/v1/a", calls=2)
        _add(conn, t["usage_daily"], day=date(2026, 12, 5), user_id=12, key_id=bob_key, endpoint="/v1/a", calls=1)
    return {"alice_key": alice_key, "alice_test_key": alice_test_key, "bob_key": bob_key, "order": order}


def _links(tables, column):
    """Each owned table's rows, as (the link, the row's id or other key), sorted."""
    keys = {"billing_details": "name", "usage_daily": "endpoint", "alert_recipients": "email"}
    found = {}
    for name in OWNED:
        table = tables[name]
        other = table.c[keys.get(name, "id")]
        with _db.engine.connect() as conn:
            found[name] = sorted(conn.execute(select(table.c[column], other)).all(), key=repr)
    return found


def _foreign_keys_enforced_on_every_pooled_connection():
    if _db.engine.dialect.name != "sqlite":
        return True
    connections = [_db.engine.connect() for _ in range(3)]  # the migration's among them
    try:
        return all(conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1 for conn in connections)
    finally:
        for conn in connections:
            conn.close()


def test_every_account_becomes_its_own_personal_organisation_and_keeps_what_it_owned(database_factory):
    url = database_factory.new()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        ids = _old_accounts_with_everything()
        before = _links(_tables(*OWNED), "user_id")

        flask_migrate.upgrade(revision=REVISION)

        t = _tables("users", "organisations", "memberships", "invoices", *OWNED)
        with _db.engine.connect() as conn:
            organisations = {row.id: row for row in conn.execute(select(t["organisations"]))}
            memberships = conn.execute(select(t["memberships"].c["organisation_id", "user_id", "role",
                                                                  "created_at"])).all()
            keys = dict(conn.execute(select(t["api_keys"].c.id, t["api_keys"].c.created_by_id)).all())
            orders = dict(conn.execute(select(t["orders"].c.reference, t["orders"].c.placed_by_id)).all())
            call_keys = dict(conn.execute(select(t["api_calls"].c.request_id, t["api_calls"].c.key_id)).all())
            invoices = conn.execute(select(t["invoices"].c.order_id)).scalars().all()
        assert set(organisations) == set(ACCOUNTS)
        for user_id, account in ACCOUNTS.items():
            organisation = organisations[user_id]
            assert (organisation.personal, organisation.name) == (True, None)
            assert organisation.created_at == JOINED and organisation.suspended_at is None
            assert organisation.closed_at == account.get("closed_at")
            assert {name: getattr(organisation, name) for name in MOVED} == {name: account[name] for name in MOVED}
        assert sorted(memberships) == [(user_id, user_id, "owner", JOINED) for user_id in sorted(ACCOUNTS)]
        assert not set(MOVED) & set(t["users"].c.keys())
        # Every owned row refers to the organisation with its old account's id, and nothing else moved.
        assert _links(t, "organisation_id") == before
        assert all("user_id" not in t[name].c for name in OWNED)
        assert keys == {ids["alice_key"]: 7, ids["alice_test_key"]: 7, ids["bob_key"]: 12}
        assert orders == {"ORD-AAAA-0001": 7, "ORD-ERAS-0002": None}
        # Copying the tables emptied or deleted nothing that refers to them (SQLite's batch mode).
        assert call_keys == {"r1": ids["alice_key"], "r2": ids["alice_key"], "r3": ids["bob_key"], "r4": None}
        assert invoices == [ids["order"]]
        assert _foreign_keys_enforced_on_every_pooled_connection()

        # An organisation made now takes an id of its own, above every account's.
        with _db.engine.begin() as conn:
            team = _add(conn, t["organisations"], name="Team", created_at=CALLED)
        assert team > max(ACCOUNTS)

        flask_migrate.downgrade(revision=BEFORE)

        t = _tables("users", "invoices", *OWNED)
        with _db.engine.connect() as conn:
            users = {row.id: row for row in conn.execute(select(t["users"]))}
        assert set(users) == set(ACCOUNTS)
        for user_id, account in ACCOUNTS.items():
            assert {name: getattr(users[user_id], name) for name in MOVED} == {name: account[name] for name in MOVED}
        assert _links(t, "user_id") == before
        assert not {"organisations", "memberships"} & set(inspect(_db.engine).get_table_names())
        assert "created_by_id" not in t["api_keys"].c and "placed_by_id" not in t["orders"].c
        assert {fk["referred_table"] for name in OWNED for fk in inspect(_db.engine).get_foreign_keys(name)
                if fk["constrained_columns"] == ["user_id"]} == {"users"}
        with _db.engine.connect() as conn:
            assert conn.execute(select(t["invoices"].c.order_id)).scalars().all() == [ids["order"]]
        assert _foreign_keys_enforced_on_every_pooled_connection()
        _db.engine.dispose()


def test_a_downgrade_gives_personal_organisations_back_to_their_owners_and_drops_the_others(database_factory):
    """Made after the upgrade: a team, and new accounts whose personal organisations' ids are not
    their own (organisation 4 is account 5's, 5 is account 6's). They get their balances, keys and
    billing details back under their own ids; the team's keys, ledger and usage go, its orders stay
    without an account; so does what an organisation without an owner held."""
    url = database_factory.new()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade(revision=REVISION)
        t = _tables("users", "organisations", "memberships", *OWNED)
        with _db.engine.begin() as conn:
            for user_id in (1, 2):  # accounts as the upgrade leaves them: organisations 1 and 2
                _add(conn, t["users"], id=user_id, email=f"user{user_id}@example.com", created_at=JOINED)
                _add(conn, t["organisations"], id=user_id, personal=True, created_at=JOINED, credit_balance=5)
                _add(conn, t["memberships"], organisation_id=user_id, user_id=user_id, role="owner")
            team = _add(conn, t["organisations"], id=3, name="Team", created_at=CALLED)
            _add(conn, t["memberships"], organisation_id=team, user_id=1, role="owner")
            for user_id, organisation, balance, limit in ((5, 4, 70, 900), (6, 5, 11, None)):
                _add(conn, t["users"], id=user_id, email=f"new{user_id}@example.com", created_at=CALLED)
                _add(conn, t["organisations"], id=organisation, personal=True, created_at=CALLED,
                     credit_balance=balance, monthly_spend_limit=limit)
                _add(conn, t["memberships"], organisation_id=organisation, user_id=user_id, role="owner")
            _add(conn, t["memberships"], organisation_id=team, user_id=5, role="developer")
            for organisation in (team, 4, 5, 1, 2):
                key = _add(conn, t["api_keys"], organisation_id=organisation, created_by_id=1, name="k",
                           secret_hash=str(organisation) * 64)
                _add(conn, t["credit_ledger"], organisation_id=organisation, kind="grant", amount=5)
                _add(conn, t["usage_daily"], organisation_id=organisation, key_id=key, day=date(2026, 12, 5),
                     endpoint="/v1/a")
                _add(conn, t["api_calls"], organisation_id=organisation, key_id=key, request_id=str(organisation),
                     created_at=CALLED, ip_truncated=False)
                _add(conn, t["orders"], organisation_id=organisation, placed_by_id=1, reference=f"ORD-{organisation}")
            # Organisation 4's details move to id 5 while 5's are still there (and go to 6).
            for organisation in (4, 5, team):
                _add(conn, t["billing_details"], organisation_id=organisation, name=f"Org {organisation}",
                     address="x", country="FR")
            _add(conn, t["alert_recipients"], organisation_id=team, email="team@example.com", token_hash=None)
            conn.execute(delete(t["memberships"]).where(t["memberships"].c.organisation_id == 2))  # no owner left

        flask_migrate.downgrade(revision=BEFORE)

        t = _tables("users", *OWNED)
        with _db.engine.connect() as conn:
            balances = dict(conn.execute(select(t["users"].c.id, t["users"].c.credit_balance)).all())
            limits = dict(conn.execute(select(t["users"].c.id, t["users"].c.monthly_spend_limit)).all())
            rows = {name: sorted(conn.execute(select(t[name].c.user_id)).scalars().all(), key=repr)
                    for name in OWNED}
            orders = dict(conn.execute(select(t["orders"].c.reference, t["orders"].c.user_id)).all())
            details = sorted(conn.execute(select(t["billing_details"].c.user_id, t["billing_details"].c.name)).all())
        assert balances == {1: 5, 2: 0, 5: 70, 6: 11} and limits == {1: None, 2: None, 5: 900, 6: None}
        assert orders == {"ORD-3": None, "ORD-4": 5, "ORD-5": 6, "ORD-1": 1, "ORD-2": None}
        assert details == [(5, "Org 4"), (6, "Org 5")]
        assert rows == {"api_keys": [1, 5, 6], "credit_ledger": [1, 5, 6], "orders": [1, 5, 6, None, None],
                        "alert_recipients": [], "billing_details": [5, 6], "api_calls": [1, 5, 6],
                        "usage_daily": [1, 5, 6]}
        assert _foreign_keys_enforced_on_every_pooled_connection()
        _db.engine.dispose()


def test_organisation_ids_continue_after_the_accounts_and_are_never_used_again(database_factory):
    """SQLite's AUTOINCREMENT counter follows the ids the migration inserted: none is used again,
    even once the organisation holding the highest id is deleted."""
    url = database_factory.new()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        users = _tables("users")["users"]
        with _db.engine.begin() as conn:
            for user_id in (4, 9):
                _add(conn, users, id=user_id, email=f"user{user_id}@example.com")
        flask_migrate.upgrade(revision=REVISION)
        organisations = _tables("organisations")["organisations"]
        with _db.engine.begin() as conn:
            conn.execute(delete(organisations).where(organisations.c.id == 9))
            assert _add(conn, organisations, name="Team") == 10
            if _db.engine.dialect.name == "sqlite":
                assert conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'organisations'")).scalar() == 10
        _db.engine.dispose()
