"""legal: policy versions and notices

Published versions of the privacy policy, cookie policy and terms, and the per-user records of
notices of significant changes.

Revision ID: a4fac330e43f
Revises: cf108ed825e2
Create Date: 2026-11-28 23:41:10.888116

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a4fac330e43f'
down_revision = 'cf108ed825e2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('policy_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document', sa.String(length=20), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('significant', sa.Boolean(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_versions')),
    sa.UniqueConstraint('document', 'version', 'locale', name=op.f('uq_policy_versions_document'))
    )
    op.create_table('policy_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('document', sa.String(length=20), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('emailed_at', sa.DateTime(), nullable=True),
    sa.Column('viewed_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_policy_notices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_notices')),
    sa.UniqueConstraint('user_id', 'document', 'version', name=op.f('uq_policy_notices_user_id'))
    )
    with op.batch_alter_table('policy_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_notices_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('policy_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_notices_user_id'))

    op.drop_table('policy_notices')
    op.drop_table('policy_versions')
