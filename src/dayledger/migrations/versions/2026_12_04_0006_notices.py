"""notices: webhook endpoints, deliveries and their attempts; events remember whether they
were fanned out to webhooks and to email; the low-balance, runway and expiring notices'
state on partners and channels

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 13:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('partner_id', sa.String(length=28), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('disabled_reason', sa.String(length=500), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_webhook_endpoints_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_endpoints_partner', ['partner_id'], unique=False)
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
              nullable=False),
    sa.Column('endpoint_id', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_ms', sa.BigInteger(), nullable=True),
    sa.Column('last_attempt_ms', sa.BigInteger(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'],
                            name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('endpoint_id', 'event_id', name='uq_webhook_deliveries_endpoint_event')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        pending = sa.text("status = 'pending'")
        batch_op.create_index('ix_webhook_deliveries_due', ['next_attempt_ms'], unique=False,
                              sqlite_where=pending, postgresql_where=pending)
        batch_op.create_index('ix_webhook_deliveries_endpoint', ['endpoint_id', 'id'], unique=False)
    op.create_table('webhook_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
              nullable=False),
    sa.Column('delivery_id', sa.BigInteger(), nullable=False),
    sa.Column('attempted_ms', sa.BigInteger(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('response', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'],
                            name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts'))
    )
    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_attempts_delivery', ['delivery_id', 'id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhooks_ms', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('emailed_ms', sa.BigInteger(), nullable=True))
    # Events from before notices existed are not sent now, days or weeks late.
    op.execute("UPDATE events SET webhooks_ms = created_ms, emailed_ms = created_ms")
    with op.batch_alter_table('events', schema=None) as batch_op:
        for name, column in (('ix_events_webhooks_pending', 'webhooks_ms'), ('ix_events_email_pending', 'emailed_ms')):
            where = sa.text(f'{column} IS NULL')
            batch_op.create_index(name, ['id'], unique=False, sqlite_where=where, postgresql_where=where)

    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('days_alerted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('expiring_notice_days', sa.Integer(), nullable=False, server_default='3'))
        batch_op.add_column(sa.Column('runway_notice_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('runway_alerted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('email_notices', sa.JSON(), nullable=True))
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expiring_notified_till_ms', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('expiring_notified_till_ms')
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.drop_column('email_notices')
        batch_op.drop_column('runway_alerted')
        batch_op.drop_column('runway_notice_days')
        batch_op.drop_column('expiring_notice_days')
        batch_op.drop_column('days_alerted')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_email_pending')
        batch_op.drop_index('ix_events_webhooks_pending')
        batch_op.drop_column('emailed_ms')
        batch_op.drop_column('webhooks_ms')
    op.drop_table('webhook_attempts')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_endpoints')
