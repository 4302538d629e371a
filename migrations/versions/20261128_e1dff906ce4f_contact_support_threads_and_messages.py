"""contact: support threads and messages

Support threads (sender, topic, status, assignee, IP truncated after 7 days) and their messages,
whose bodies the application stores encrypted.

Revision ID: e1dff906ce4f
Revises: 8d95b8da4c5e
Create Date: 2026-11-28 23:07:34.794812

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e1dff906ce4f'
down_revision = '8d95b8da4c5e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contact_threads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=12), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('topic', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('ip_truncated', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_contact_threads_assignee_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_contact_threads_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_threads')),
    sa.UniqueConstraint('reference', name=op.f('uq_contact_threads_reference'))
    )
    with op.batch_alter_table('contact_threads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_threads_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_threads_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_threads_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_threads_user_id'), ['user_id'], unique=False)

    op.create_table('contact_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['users.id'], name=op.f('fk_contact_messages_staff_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['contact_threads.id'], name=op.f('fk_contact_messages_thread_id_contact_threads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_messages'))
    )
    with op.batch_alter_table('contact_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_messages_thread_id'), ['thread_id'], unique=False)



def downgrade():
    with op.batch_alter_table('contact_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_messages_thread_id'))

    op.drop_table('contact_messages')
    with op.batch_alter_table('contact_threads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_threads_user_id'))
        batch_op.drop_index(batch_op.f('ix_contact_threads_status'))
        batch_op.drop_index(batch_op.f('ix_contact_threads_email'))
        batch_op.drop_index(batch_op.f('ix_contact_threads_created_at'))

    op.drop_table('contact_threads')
