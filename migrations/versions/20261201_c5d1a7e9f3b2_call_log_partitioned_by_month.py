"""call log: partitioned by month on PostgreSQL; request ids unique with their time; whole-IP index

- PostgreSQL: ``api_calls`` becomes a table partitioned by range of ``created_at``, one partition a
  month (``api_calls_y2026m12``) from the oldest row's month to three months ahead, plus a DEFAULT
  partition, so expiry drops whole months (``app/usage/partitions.py``). Its primary key becomes
  (id, created_at) and the unique request id (request_id, created_at): PostgreSQL requires the
  partition key in both. The rows are copied over in one statement: on a large log, run it in a
  maintenance window (about a minute per 10 million rows on modest hardware).
- Both databases: the unique constraint is (request_id, created_at) there too, and
  ``ix_api_calls_ip_whole`` indexes the calls whose IP is not yet truncated (a partial index).

Revision ID: c5d1a7e9f3b2
Revises: b7e2c41d9a30
Create Date: 2026-12-01 14:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5d1a7e9f3b2'
down_revision = 'b7e2c41d9a30'
branch_labels = None
depends_on = None

COLUMNS = """
    id INTEGER NOT NULL DEFAULT nextval('api_calls_id_seq'::regclass),
    request_id VARCHAR(32) NOT NULL,
    user_id INTEGER NOT NULL,
    key_id INTEGER,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    method VARCHAR(8) NOT NULL,
    endpoint VARCHAR(100) NOT NULL,
    status INTEGER NOT NULL,
    credits INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    ip VARCHAR(45),
    ip_truncated BOOLEAN NOT NULL,
    CONSTRAINT fk_api_calls_key_id_api_keys FOREIGN KEY (key_id) REFERENCES api_keys (id) ON DELETE SET NULL,
    CONSTRAINT fk_api_calls_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
"""
COPY = ("INSERT INTO api_calls (id, request_id, user_id, key_id, created_at, method, endpoint, status, credits, "
        "latency_ms, ip, ip_truncated) SELECT id, request_id, user_id, key_id, created_at, method, endpoint, status, "
        "credits, latency_ms, ip, ip_truncated FROM api_calls_before")

# One partition a month from the oldest row's month (or this month) to three months ahead.
MONTHS = """
DO $$
DECLARE
    today timestamp := now() AT TIME ZONE 'UTC';
    month date := date_trunc('month', LEAST(COALESCE((SELECT min(created_at) FROM api_calls_before), today), today));
    last date := date_trunc('month', today) + interval '3 months';
BEGIN
    WHILE month <= last LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF api_calls FOR VALUES FROM (%L) TO (%L)',
                       'api_calls_y' || to_char(month, 'YYYY') || 'm' || to_char(month, 'MM'),
                       month, month + interval '1 month');
        month := month + interval '1 month';
    END LOOP;
END $$;
"""


def _indexes():
    op.create_index('ix_api_calls_created_at', 'api_calls', ['created_at'])
    op.create_index('ix_api_calls_user_id_created_at', 'api_calls', ['user_id', 'created_at'])
    op.create_index('ix_api_calls_ip_whole', 'api_calls', ['created_at'],
                    postgresql_where=sa.text('ip_truncated = false'), sqlite_where=sa.text('ip_truncated = 0'))


def _set_aside_old_table():
    op.execute("ALTER TABLE api_calls RENAME TO api_calls_before")
    op.execute("ALTER SEQUENCE api_calls_id_seq OWNED BY NONE")
    op.execute("DROP INDEX IF EXISTS ix_api_calls_created_at")
    op.execute("DROP INDEX IF EXISTS ix_api_calls_user_id_created_at")
    op.execute("DROP INDEX IF EXISTS ix_api_calls_ip_whole")
    for name in ("pk_api_calls", "uq_api_calls_request_id", "uq_api_calls_request_id_created_at"):
        op.execute(f"ALTER TABLE api_calls_before DROP CONSTRAINT IF EXISTS {name}")


def _finish_copy():
    op.execute("ALTER SEQUENCE api_calls_id_seq OWNED BY api_calls.id")
    op.execute("DROP TABLE api_calls_before")


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        _set_aside_old_table()
        op.execute(f"CREATE TABLE api_calls ({COLUMNS}, CONSTRAINT pk_api_calls PRIMARY KEY (id, created_at), "
                   "CONSTRAINT uq_api_calls_request_id_created_at UNIQUE (request_id, created_at)) "
                   "PARTITION BY RANGE (created_at)")
        op.execute("CREATE TABLE api_calls_default PARTITION OF api_calls DEFAULT")
        op.execute(MONTHS)
        op.execute(COPY)
        _finish_copy()
        _indexes()
        return
    with op.batch_alter_table('api_calls', schema=None) as batch_op:
        batch_op.drop_constraint('uq_api_calls_request_id', type_='unique')
        batch_op.create_unique_constraint('uq_api_calls_request_id_created_at', ['request_id', 'created_at'])
    op.create_index('ix_api_calls_ip_whole', 'api_calls', ['created_at'], sqlite_where=sa.text('ip_truncated = 0'))


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        _set_aside_old_table()
        op.execute(f"CREATE TABLE api_calls ({COLUMNS}, CONSTRAINT pk_api_calls PRIMARY KEY (id), "
                   "CONSTRAINT uq_api_calls_request_id UNIQUE (request_id))")
        op.execute(COPY)
        _finish_copy()
        op.create_index('ix_api_calls_created_at', 'api_calls', ['created_at'])
        op.create_index('ix_api_calls_user_id_created_at', 'api_calls', ['user_id', 'created_at'])
        return
    op.drop_index('ix_api_calls_ip_whole', table_name='api_calls')
    with op.batch_alter_table('api_calls', schema=None) as batch_op:
        batch_op.drop_constraint('uq_api_calls_request_id_created_at', type_='unique')
        batch_op.create_unique_constraint('uq_api_calls_request_id', ['request_id'])
