"""ledger: entries record the channel's time after them (active_till_after_ms)

The ledger owns channel time as it owns balances: every change of a channel's activeTill
is an entry carrying the resulting activeTill, so verify can recompute it. Channels that
already have time get one ``import`` entry recording it (no days move; balance_after is
the partner's balance, so every balance chain stays intact).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 07:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active_till_after_ms', sa.BigInteger(), nullable=True))
    op.execute(
        "INSERT INTO ledger_entries (partner_id, created_ms, type, days, balance_delta, balance_after, "
        "channel_id, channel_days, comment, actor_type, actor_id, active_till_after_ms) "
        "SELECT c.partner_id, c.created_ms, 'import', 0, 0, p.balance, c.id, 0, "
        "'channel time recorded when the ledger took it over', 'system', 'migration', c.active_till_ms "
        "FROM channels c JOIN partners p ON p.id = c.partner_id "
        "WHERE c.active_till_ms <> c.created_ms ORDER BY c.partner_id, c.created_ms, c.id")


def downgrade() -> None:
    # Entries are append-only (a trigger refuses DELETE): the import entries stay.
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('active_till_after_ms')
