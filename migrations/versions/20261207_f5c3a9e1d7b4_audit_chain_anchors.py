"""The audit chain's anchors (issue 32, item 7)

Revision ID: f5c3a9e1d7b4
Revises: a7d3e9f1c2b8
Create Date: 2026-12-07 17:00:00

A table recording where the audit log's hash chain begins (and, after the retention purge, where
it starts now), which the ORM never changes. An existing log is anchored at its first sealed
entry as it is now: "genesis" when that entry links to the genesis value, "retention" when the
purge had already removed the chain's first entries. Each anchor is sealed with the chain's key
(derived from SECRET_KEY, as in app/audit/chain.py), so the application's configuration must be
the production one when this runs. A log with no sealed entry is anchored at its first seal.
"""
import hashlib
import hmac
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = 'f5c3a9e1d7b4'
down_revision = 'a7d3e9f1c2b8'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _anchor_seal(kind, entry_id, prev_hash, entry_hash):
    # The formula of app.audit.chain.anchor_seal, frozen here as of this revision.
    key = hashlib.sha256(b"twtapi-audit-chain:" + current_app.config["SECRET_KEY"].encode()).digest()
    text = "\x1f".join("" if p is None else str(p) for p in ("anchor", kind, entry_id, prev_hash, entry_hash))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def upgrade():
    anchors = op.create_table(
        'audit_chain_anchors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('entry_hash', sa.String(length=64), nullable=True),
        sa.Column('seal', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    audit_log = sa.table('audit_log', sa.column('id', sa.Integer), sa.column('prev_hash', sa.String),
                         sa.column('row_hash', sa.String))
    bind = op.get_bind()
    first = bind.execute(sa.select(audit_log.c.id, audit_log.c.prev_hash, audit_log.c.row_hash)
                         .where(audit_log.c.row_hash.is_not(None)).order_by(audit_log.c.id).limit(1)).first()
    if first is None:
        return
    kind = "genesis" if first.prev_hash == GENESIS else "retention"
    rows = [{"kind": kind, "entry_id": first.id, "prev_hash": first.prev_hash, "entry_hash": first.row_hash}]
    if kind == "retention":
        # The chain began before this revision and its first entries are gone: the genesis anchor
        # names no entry (no hash), only from where every entry must be sealed.
        rows.insert(0, {"kind": "genesis", "entry_id": first.id, "prev_hash": GENESIS, "entry_hash": None})
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(anchors, [{**row, "created_at": now, "seal": _anchor_seal(row["kind"], row["entry_id"],
                                                                             row["prev_hash"], row["entry_hash"])}
                             for row in rows])


def downgrade():
    op.drop_table('audit_chain_anchors')
