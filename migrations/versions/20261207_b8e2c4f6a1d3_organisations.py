"""Organisations: they own the balance, keys, ledger, orders, alerts, billing details, usage and calls

Revision ID: b8e2c4f6a1d3
Revises: a7d3e9b1c5f2
Create Date: 2026-12-07 23:30:00

- New tables ``organisations`` and ``memberships`` (a person's role in an organisation).
- Every existing account (closed and erased ones too) gets a personal organisation WITH ITS
  USER'S ID (no name, ``personal`` true, the account's creation and closing times), holding what
  was the account's: the balance, the low-credit marks, the alert thresholds and levels and the
  monthly spend limit, which leave ``users``. The account is its organisation's ``owner`` member.
- ``api_keys``, ``credit_ledger``, ``orders``, ``alert_recipients``, ``billing_details``,
  ``api_calls`` and ``usage_daily``: ``user_id`` becomes ``organisation_id``, referring to the
  organisation (same ON DELETE as before), with its indexes and unique constraints renamed.
  The ids being equal, no row changes value. ``api_keys.created_by_id`` and
  ``orders.placed_by_id`` (new, SET NULL) keep who made the key and who bought: the old user.
- Later organisations take ids above every existing one (PostgreSQL: the sequence is moved past
  them; SQLite: ``AUTOINCREMENT``, whose counter follows the ids inserted).

PostgreSQL: in place (ALTER TABLE on the call log's parent reaches every partition). The renames
are catalogue changes, the partitions' own indexes included, named as a new partition's would be
(``api_calls_y2026m12_organisation_id_created_at_idx``). Adding each new foreign key reads its
whole table to validate it (on ``api_calls`` every partition) under the exclusive lock the rename
took: on a large call log, run the upgrade in a maintenance window.

SQLite: each of the seven tables is copied (batch mode) to change its foreign key. Dropping a
table other rows refer to would delete or empty them by their ON DELETE (every invoice and
refund with its order, every call's key), so foreign keys are not enforced on the migration's
connection during this revision: they are checked (``PRAGMA foreign_key_check``) before it
commits, and enforced again as soon as its transaction is over.

Downgrade: the columns go back to ``users``, filled from each account's personal organisation
(the one it owns; an account without one gets a zero balance and no settings). What belongs to
any other organisation cannot go back to an account and is deleted (its keys, ledger, alert
recipients, billing details, calls and usage); its orders are kept without an account (as for an
erased buyer: tax law). Rows of a personal organisation made after this revision, whose id is
not its owner's, are given the owner's id. Who made a key and who bought are dropped.
"""
import sqlalchemy as sa
from alembic import op

revision = 'b8e2c4f6a1d3'
down_revision = 'a7d3e9b1c5f2'
branch_labels = None
depends_on = None


def _moved():
    """What moves from the account to its personal organisation, as it was declared on users."""
    return (
        sa.Column('credit_balance', sa.Integer(), server_default='0', nullable=False),
        sa.Column('low_credit_notified', sa.Integer(), nullable=True),
        sa.Column('low_credit_notified_at', sa.DateTime(), nullable=True),
        sa.Column('alert_thresholds', sa.String(length=100), nullable=True),
        sa.Column('alert_levels', sa.String(length=200), nullable=True),
        sa.Column('monthly_spend_limit', sa.Integer(), nullable=True),
    )


MOVED_NAMES = [column.name for column in _moved()]

# The tables an organisation owns: each one's ON DELETE, its indexes (name, columns, partial
# index's condition) and unique constraints (name, columns) on the link, ``{col}`` standing for
# user_id before and organisation_id after.
OWNED = (
    ('api_keys', 'CASCADE', [('ix_api_keys_{col}', ['{col}'], None)], []),
    ('credit_ledger', 'CASCADE', [('ix_credit_ledger_{col}', ['{col}'], None)], []),
    ('orders', 'SET NULL', [('ix_orders_{col}', ['{col}'], None)], []),
    ('alert_recipients', 'CASCADE', [('ix_alert_recipients_{col}', ['{col}'], None)],
     [('uq_alert_recipients_{col}', ['{col}', 'email'])]),
    ('billing_details', 'CASCADE', [], []),
    ('api_calls', 'CASCADE', [('ix_api_calls_{col}_created_at', ['{col}', 'created_at'], None),
                              ('ix_api_calls_failed', ['{col}', 'created_at'], 'status >= 500')], []),
    ('usage_daily', 'CASCADE', [('ix_usage_daily_{col}_day', ['{col}', 'day'], None)],
     [('uq_usage_daily_day', ['day', '{col}', 'key_id', 'endpoint'])]),
)
# Who made a key, who placed an order: a member, kept when the link moves to the organisation.
AUTHORS = (('api_keys', 'created_by_id'), ('orders', 'placed_by_id'))

USER = ('user_id', 'users')
ORGANISATION = ('organisation_id', 'organisations')


def _is_sqlite():
    return op.get_bind().dialect.name == 'sqlite'


def _fk_name(table, link):
    return f'fk_{table}_{link[0]}_{link[1]}'


def _named(names, col):
    return [name.format(col=col) for name in names]


def _foreign_keys_off():
    """SQLite: stop enforcing foreign keys on this connection for this revision.

    Batch mode drops each table it copies, and SQLite deletes a dropped table's rows first, with
    their ON DELETE actions (an order's invoices and refunds, a key's calls). The pragma is
    ignored inside a transaction, so it comes before this revision's first write, and it is
    turned on again once this revision's transaction is over: when the next revision's begins,
    or when the connection goes back to the pool, whichever comes first.
    """
    bind = op.get_bind()
    bind.exec_driver_sql('PRAGMA foreign_keys=OFF')
    if bind.exec_driver_sql('PRAGMA foreign_keys').scalar():
        raise RuntimeError('This migration must run in a transaction of its own on SQLite '
                           '(foreign keys cannot be turned off inside one): run `flask db upgrade`.')
    dbapi_connection = bind.connection.dbapi_connection
    pending = [dbapi_connection]

    def enforce_again():
        if pending:
            pending.pop().execute('PRAGMA foreign_keys=ON')

    def on_begin(_connection):  # the DBAPI connection is not in a transaction yet
        enforce_again()

    def on_checkin(connection, _record):  # after the commit or rollback
        if connection is dbapi_connection:
            enforce_again()

    sa.event.listen(bind, 'begin', on_begin)
    sa.event.listen(bind.engine.pool, 'checkin', on_checkin)


def _check_foreign_keys(tables):
    """SQLite: refuse to commit rows that refer to nothing (what enforcement would have refused)."""
    bind = op.get_bind()
    for table in tables:
        broken = bind.exec_driver_sql(f'PRAGMA foreign_key_check({table})').fetchall()
        if broken:
            raise RuntimeError(f'{table}: rows refer to missing rows after the migration: {broken[:5]}')


def _relink(table, ondelete, indexes, uniques, old, new, old_fk_dropped=False, also=None):
    """Turn ``table``'s link ``old`` (column, referred table) into ``new``: rename the column, its
    indexes and unique constraints, and replace its foreign key. ``also``: more changes to the
    table (batch operations), made in the same copy on SQLite."""
    old_col, new_col = old[0], new[0]
    if _is_sqlite():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _columns, _where in indexes:
                batch_op.drop_index(name.format(col=old_col))
            for name, _columns in uniques:
                batch_op.drop_constraint(name.format(col=old_col), type_='unique')
            batch_op.drop_constraint(_fk_name(table, old), type_='foreignkey')
            # A renamed column keeps its old key in the batch: what is made on it names it so.
            batch_op.alter_column(old_col, new_column_name=new_col, existing_type=sa.Integer())
            batch_op.create_foreign_key(_fk_name(table, new), new[1], [old_col], ['id'], ondelete=ondelete)
            for name, columns in uniques:
                batch_op.create_unique_constraint(name.format(col=new_col), _named(columns, old_col))
            for name, columns, where in indexes:
                batch_op.create_index(name.format(col=new_col), _named(columns, old_col), unique=False,
                                      **({'sqlite_where': sa.text(where)} if where else {}))
            if also:
                also(batch_op)
        return
    # PostgreSQL: in place. On the partitioned call log each statement on the parent reaches
    # every partition; renaming a column renames it in its indexes and constraints as well.
    if not old_fk_dropped:
        op.drop_constraint(_fk_name(table, old), table, type_='foreignkey')
    op.alter_column(table, old_col, new_column_name=new_col, existing_type=sa.Integer())
    for name, _columns, _where in indexes:
        if name.format(col=old_col) != name.format(col=new_col):
            op.execute(f'ALTER INDEX {name.format(col=old_col)} RENAME TO {name.format(col=new_col)}')
    for name, _columns in uniques:
        if name.format(col=old_col) != name.format(col=new_col):
            op.execute(f'ALTER TABLE {table} RENAME CONSTRAINT {name.format(col=old_col)} '
                       f'TO {name.format(col=new_col)}')
    op.create_foreign_key(_fk_name(table, new), table, new[1], [new_col], ['id'], ondelete=ondelete)
    if table == 'api_calls':
        _rename_partition_indexes(old_col, new_col)
    if also:
        with op.batch_alter_table(table, schema=None) as batch_op:  # on PostgreSQL: ALTER TABLE
            also(batch_op)


def _rename_partition_indexes(old_col, new_col):
    """PostgreSQL: the monthly partitions' own indexes on the link, named after the column by
    PostgreSQL (``api_calls_y2026m12_user_id_created_at_idx``), as a new partition's would be."""
    op.execute(f"""
DO $$
DECLARE
    part record;
BEGIN
    FOR part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                JOIN pg_class p ON p.oid = i.inhparent
                WHERE p.relname IN ('ix_api_calls_{new_col}_created_at', 'ix_api_calls_failed')
                  AND strpos(c.relname, '_{old_col}_') > 0
    LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', part.relname,
                       replace(part.relname, '_{old_col}_', '_{new_col}_'));
    END LOOP;
END $$;
""")


def _add_author(table, column):
    """The new ``created_by_id`` / ``placed_by_id`` column: a member, SET NULL when erased."""
    def add(batch_op):
        batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
        batch_op.create_foreign_key(f'fk_{table}_{column}_users', 'users', [column], ['id'], ondelete='SET NULL')
        batch_op.create_index(f'ix_{table}_{column}', [column], unique=False)
    return add


def _drop_author(table, column):
    def drop(batch_op):
        batch_op.drop_index(f'ix_{table}_{column}')
        batch_op.drop_constraint(f'fk_{table}_{column}_users', type_='foreignkey')
        batch_op.drop_column(column)
    return drop


def upgrade():
    sqlite = _is_sqlite()
    if sqlite:
        _foreign_keys_off()
    organisations = op.create_table(
        'organisations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=True),
        sa.Column('personal', sa.Boolean(), server_default='0', nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('credit_balance', sa.Integer(), server_default='0', nullable=False),
        sa.Column('low_credit_notified', sa.Integer(), nullable=True),
        sa.Column('low_credit_notified_at', sa.DateTime(), nullable=True),
        sa.Column('alert_thresholds', sa.String(length=100), nullable=True),
        sa.Column('alert_levels', sa.String(length=200), nullable=True),
        sa.Column('monthly_spend_limit', sa.Integer(), nullable=True),
        sa.Column('suspended_at', sa.DateTime(), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
        sqlite_autoincrement=True,
    )
    memberships = op.create_table(
        'memberships',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'],
                                name=op.f('fk_memberships_organisation_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_memberships_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
        sa.UniqueConstraint('organisation_id', 'user_id', name=op.f('uq_memberships_organisation_id')),
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_memberships_user_id'), ['user_id'], unique=False)

    # Every account's personal organisation, with the account's id: what refers to the account
    # now refers to its organisation without a row being rewritten.
    users = sa.table('users', sa.column('id', sa.Integer()), sa.column('created_at', sa.DateTime()),
                     sa.column('closed_at', sa.DateTime()), *[sa.column(name) for name in MOVED_NAMES])
    op.execute(organisations.insert().from_select(
        ['id', 'name', 'personal', 'created_at', *MOVED_NAMES, 'suspended_at', 'closed_at'],
        sa.select(users.c.id, sa.null(), sa.true(), users.c.created_at, *[users.c[name] for name in MOVED_NAMES],
                  sa.null(), users.c.closed_at)))
    op.execute(memberships.insert().from_select(
        ['organisation_id', 'user_id', 'role', 'created_at'],
        sa.select(users.c.id, users.c.id, sa.literal('owner', sa.String()), users.c.created_at)))
    if not sqlite:  # the next organisation's id comes after every account's
        op.execute("SELECT setval(pg_get_serial_sequence('organisations', 'id'), "
                   "COALESCE((SELECT max(id) FROM organisations), 0) + 1, false)")

    authors = dict(AUTHORS)
    for table, ondelete, indexes, uniques in OWNED:
        column = authors.get(table)
        _relink(table, ondelete, indexes, uniques, USER, ORGANISATION,
                also=_add_author(table, column) if column else None)
        if column:  # the account the key or order belonged to made or placed it
            op.execute(f'UPDATE {table} SET {column} = organisation_id')

    # In place, not batch mode: SQLite (3.35+) drops a plain column as PostgreSQL does.
    for name in MOVED_NAMES:
        op.drop_column('users', name)
    if sqlite:
        _check_foreign_keys(['organisations', 'memberships', *[table for table, *_ in OWNED]])


def downgrade():
    sqlite = _is_sqlite()
    if sqlite:
        _foreign_keys_off()
    else:  # the links are rewritten below before they refer to accounts again
        for table, *_ in OWNED:
            op.drop_constraint(_fk_name(table, ORGANISATION), table, type_='foreignkey')

    # Each account's personal organisation: the one it owns (the lowest id, were there several).
    personal = ("(SELECT min(o.id) FROM organisations o JOIN memberships m ON m.organisation_id = o.id "
                "WHERE o.personal AND m.role = 'owner' AND m.user_id = users.id)")
    for column in _moved():
        op.add_column('users', column)  # in place, for the reason given in upgrade()
    values = ', '.join(f'{name} = (SELECT o.{name} FROM organisations o WHERE o.id = {personal})'
                       for name in MOVED_NAMES if name != 'credit_balance')
    op.execute(f'UPDATE users SET credit_balance = COALESCE((SELECT o.credit_balance FROM organisations o '
               f'WHERE o.id = {personal}), 0), {values}')

    # What belongs to any other organisation has no account to go back to.
    owner = ("(SELECT min(m.user_id) FROM memberships m WHERE m.organisation_id = {ref} "
             "AND m.role = 'owner')")
    lost = f"SELECT o.id FROM organisations o WHERE NOT o.personal OR {owner.format(ref='o.id')} IS NULL"
    for table, *_ in reversed(OWNED):  # the calls and usage before the keys they refer to
        if table == 'orders':
            op.execute(f'UPDATE orders SET organisation_id = NULL WHERE organisation_id IN ({lost})')
        else:
            op.execute(f'DELETE FROM {table} WHERE organisation_id IN ({lost})')
    # A personal organisation made after the upgrade has an id of its own: its rows get the
    # owner's. In two steps (through negative ids), so no two rows ever collide on a unique key
    # on the way (one organisation taking the id another is leaving).
    moved = f"SELECT o.id FROM organisations o WHERE o.personal AND o.id <> {owner.format(ref='o.id')}"
    for table, *_ in OWNED:
        op.execute(f"UPDATE {table} SET organisation_id = -{owner.format(ref=f'{table}.organisation_id')} "
                   f"WHERE organisation_id IN ({moved})")
        op.execute(f'UPDATE {table} SET organisation_id = -organisation_id WHERE organisation_id < 0')

    authors = dict(AUTHORS)
    for table, ondelete, indexes, uniques in OWNED:
        column = authors.get(table)
        _relink(table, ondelete, indexes, uniques, ORGANISATION, USER, old_fk_dropped=not sqlite,
                also=_drop_author(table, column) if column else None)

    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_user_id'))
        batch_op.drop_index(batch_op.f('ix_memberships_organisation_id'))
    op.drop_table('memberships')
    op.drop_table('organisations')
    if sqlite:
        _check_foreign_keys(['users', *[table for table, *_ in OWNED]])

