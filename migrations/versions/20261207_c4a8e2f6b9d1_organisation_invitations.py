"""Organisations: invitations by e-mail and the team audit log

Revision ID: c4a8e2f6b9d1
Revises: b8e2c4f6a1d3
Create Date: 2026-12-07 23:30:00

An owner or admin invites an address to their organisation with a role. The link is signed and
carries a random secret of which only the SHA-256 is kept here; it works once (``accepted_at``),
until ``expires_at`` (INVITATION_DAYS), unless withdrawn (``revoked_at``).

``team_events`` is an organisation's audit log (who did what: keys, members, billing), read
newest first per organisation. New tables: no existing data moves.
"""
import sqlalchemy as sa
from alembic import op

revision = 'c4a8e2f6b9d1'
down_revision = 'b8e2c4f6a1d3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('invited_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('accepted_at', sa.DateTime(), nullable=True),
        sa.Column('accepted_by_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['accepted_by_id'], ['users.id'], name=op.f('fk_invitations_accepted_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('fk_invitations_invited_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'],
                                name=op.f('fk_invitations_organisation_id_organisations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash')),
    )
    with op.batch_alter_table('invitations') as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_organisation_id'), ['organisation_id'], unique=False)
    op.create_table(
        'team_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('by', sa.String(length=10), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=True),
        sa.Column('target', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_team_events_actor_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'],
                                name=op.f('fk_team_events_organisation_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['subject_id'], ['users.id'], name=op.f('fk_team_events_subject_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_team_events')),
    )
    with op.batch_alter_table('team_events') as batch_op:
        batch_op.create_index('ix_team_events_organisation_id_created_at', ['organisation_id', 'created_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('team_events') as batch_op:
        batch_op.drop_index('ix_team_events_organisation_id_created_at')
    op.drop_table('team_events')
    with op.batch_alter_table('invitations') as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_organisation_id'))
    op.drop_table('invitations')
