"""call log explorer: indexes for the key filter and for failures only

- ``ix_api_calls_key_id_created_at``: a key's calls newest first; also what ON DELETE SET NULL
  needs when a key is deleted (without it, every deleted key read the whole call log).
- ``ix_api_calls_failed``: an account's failed calls (status 500 and up), a partial index: it
  holds only the failures, so it costs the flusher almost nothing.

On PostgreSQL the indexes are built on every monthly partition; on a large log run the upgrade
in a maintenance window.

Revision ID: d8e4b2c6a1f7
Revises: c5d1a7e9f3b2
Create Date: 2026-12-01 15:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd8e4b2c6a1f7'
down_revision = 'c5d1a7e9f3b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_api_calls_key_id_created_at', 'api_calls', ['key_id', 'created_at'])
    op.create_index('ix_api_calls_failed', 'api_calls', ['user_id', 'created_at'],
                    postgresql_where=sa.text('status >= 500'), sqlite_where=sa.text('status >= 500'))


def downgrade():
    op.drop_index('ix_api_calls_failed', table_name='api_calls')
    op.drop_index('ix_api_calls_key_id_created_at', table_name='api_calls')
