"""webhook heads: each endpoint's pending deliveries in order (a partial index), so finding
the endpoints' heads reads only what waits, with a plan that does not depend on statistics

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_pending', ['endpoint_id', 'id'], unique=False,
                              sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_pending', sqlite_where=PENDING, postgresql_where=PENDING)
