"""The Data Rights Protocol: authorized agents, their paired tokens and their requests

Revision ID: c6e2a8f4b0d5
Revises: b5d1f7e3a9c4
Create Date: 2026-12-06 19:00:00

Three tables. Agents are registered by staff with their Ed25519 public key; tokens keep only a
hash; each agent request points at the rights request that carries it (or none when it was
answered at once), with the hash of the signed message so it works once. A rights request may
now also be "revoked" (a plain string status, no schema change for it).
"""
import sqlalchemy as sa
from alembic import op

revision = 'c6e2a8f4b0d5'
down_revision = 'b5d1f7e3a9c4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'drp_agents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('verify_key', sa.String(length=64), nullable=False),
        sa.Column('web_url', sa.String(length=300), nullable=False),
        sa.Column('technical_contact', sa.String(length=254), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('agent_id'),
    )
    op.create_table(
        'drp_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agent_pk', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['agent_pk'], ['drp_agents.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('drp_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drp_tokens_agent_pk'), ['agent_pk'], unique=False)
    op.create_table(
        'drp_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.String(length=36), nullable=False),
        sa.Column('agent_pk', sa.Integer(), nullable=False),
        sa.Column('agent_request_id', sa.String(length=200), nullable=True),
        sa.Column('rights_request_id', sa.Integer(), nullable=True),
        sa.Column('exercise', sa.String(length=40), nullable=False),
        sa.Column('regime', sa.String(length=20), nullable=True),
        sa.Column('status_callback', sa.String(length=500), nullable=True),
        sa.Column('message_hash', sa.String(length=64), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=True),
        sa.Column('reason', sa.String(length=40), nullable=True),
        sa.Column('processing_details', sa.String(length=500), nullable=True),
        sa.Column('callback_sent', sa.String(length=80), nullable=True),
        sa.Column('callback_attempts', sa.Integer(), nullable=False),
        sa.Column('callback_next_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['agent_pk'], ['drp_agents.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['rights_request_id'], ['rights_requests.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_hash'),
        sa.UniqueConstraint('request_id'),
    )
    with op.batch_alter_table('drp_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drp_requests_agent_pk'), ['agent_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_drp_requests_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_drp_requests_rights_request_id'), ['rights_request_id'], unique=False)


def downgrade():
    with op.batch_alter_table('drp_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drp_requests_rights_request_id'))
        batch_op.drop_index(batch_op.f('ix_drp_requests_received_at'))
        batch_op.drop_index(batch_op.f('ix_drp_requests_agent_pk'))
    op.drop_table('drp_requests')
    with op.batch_alter_table('drp_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drp_tokens_agent_pk'))
    op.drop_table('drp_tokens')
    op.drop_table('drp_agents')
