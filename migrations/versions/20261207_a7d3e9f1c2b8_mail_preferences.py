"""Mail preferences: each person's choice of the optional mail categories, and one-click unsubscribe

Revision ID: a7d3e9f1c2b8
Revises: a7d3e9b5c1f8
Create Date: 2026-12-07 17:00:00

A table of mail preferences, one row per (person, category) they changed; a category without a
row has its default. The staff-access opt-in (``users.notify_staff_access``) moves into it as the
``staff_access`` category, so there is one place for every mail choice, and the column goes.
Queued optional mail keeps its one-click unsubscribe link (encrypted, wiped at delivery).
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = 'a7d3e9f1c2b8'
down_revision = 'a7d3e9b5c1f8'
branch_labels = None
depends_on = None


def upgrade():
    preferences = op.create_table(
        'mail_preferences',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=32), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'category'),
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsubscribe_url', sa.Text(), nullable=True))
    users = sa.table('users', sa.column('id', sa.Integer()), sa.column('notify_staff_access', sa.Boolean()))
    now = datetime.now(UTC).replace(tzinfo=None)
    op.execute(preferences.insert().from_select(
        ['user_id', 'category', 'enabled', 'changed_at', 'source'],
        sa.select(users.c.id, sa.literal('staff_access'), sa.true(), sa.literal(now, sa.DateTime()),
                  sa.literal('migrated')).where(users.c.notify_staff_access.is_(sa.true()))))
    # Not batch mode: on SQLite it would copy and drop the users table, and dropping it deletes, by
    # their ON DELETE CASCADE, every row hanging off it (sessions, keys, these preferences).
    # SQLite (3.35+) drops a plain column in place, as PostgreSQL does.
    op.drop_column('users', 'notify_staff_access')


def downgrade():
    op.add_column('users', sa.Column('notify_staff_access', sa.Boolean(), server_default=sa.false(),
                                     nullable=False))  # in place, for the reason given above
    users = sa.table('users', sa.column('id', sa.Integer()), sa.column('notify_staff_access', sa.Boolean()))
    preferences = sa.table('mail_preferences', sa.column('user_id', sa.Integer()), sa.column('category', sa.String()),
                           sa.column('enabled', sa.Boolean()))
    op.execute(users.update().where(users.c.id.in_(
        sa.select(preferences.c.user_id).where(preferences.c.category == 'staff_access',
                                               preferences.c.enabled.is_(sa.true()))))
        .values(notify_staff_access=True))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('unsubscribe_url')
    op.drop_table('mail_preferences')
