"""channels: index a partner's channels in listing order (created_ms, id)

The channel list and the keyset-paged CSV export order by (created_ms, id). With id in
the index, channels created in the same millisecond (bulk imports) need no sort, so each
export batch costs the same however far into the list it is.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:50:00
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_index('ix_channels_partner')
        batch_op.create_index('ix_channels_partner', ['partner_id', 'created_ms', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_index('ix_channels_partner')
        batch_op.create_index('ix_channels_partner', ['partner_id', 'created_ms'], unique=False)
