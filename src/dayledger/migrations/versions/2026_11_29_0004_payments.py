"""payments: top-ups, invoices, subscription periods, saved cards, auto-recharge, Stripe
events; the ledger learns which payment an entry credits and the partner's debt

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 07:18:33
"""
from alembic import op
import sqlalchemy as sa

CREDITS = sa.text("type IN ('topup', 'invoice', 'subscription')")


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('operator_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_operator_settings'))
    )
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('received_ms', sa.BigInteger(), nullable=False),
    sa.Column('processed_ms', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    op.create_table('autorecharge_rules',
    sa.Column('partner_id', sa.String(length=28), nullable=False),
    sa.Column('below_days', sa.BigInteger(), nullable=False),
    sa.Column('buy_days', sa.BigInteger(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('armed', sa.Boolean(), nullable=False),
    sa.Column('payment_method_id', sa.String(length=255), nullable=True),
    sa.Column('last_payment_id', sa.String(length=32), nullable=True),
    sa.Column('last_failure', sa.JSON(), nullable=True),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_autorecharge_rules_partner_id_partners')),
    sa.PrimaryKeyConstraint('partner_id', name=op.f('pk_autorecharge_rules'))
    )
    op.create_table('payment_methods',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('partner_id', sa.String(length=28), nullable=False),
    sa.Column('brand', sa.String(length=32), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('exp_month', sa.Integer(), nullable=True),
    sa.Column('exp_year', sa.Integer(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_payment_methods_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_methods'))
    )
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.create_index('ix_payment_methods_partner', ['partner_id', 'created_ms'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('partner_id', sa.String(length=28), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('days', sa.BigInteger(), nullable=False),
    sa.Column('channels', sa.Integer(), nullable=True),
    sa.Column('extra_days', sa.Integer(), nullable=True),
    sa.Column('channel_id', sa.String(length=12), nullable=True),
    sa.Column('subscription_id', sa.String(length=32), nullable=True),
    sa.Column('period', sa.String(length=7), nullable=True),
    sa.Column('unit_price', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('subtotal', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('discount_percent', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('discount', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('total', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('payment_url', sa.Text(), nullable=True),
    sa.Column('stripe_checkout_session', sa.String(length=255), nullable=True),
    sa.Column('stripe_payment_intent', sa.String(length=255), nullable=True),
    sa.Column('stripe_invoice', sa.String(length=255), nullable=True),
    sa.Column('stripe_charge', sa.String(length=255), nullable=True),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('flag', sa.Text(), nullable=True),
    sa.Column('failure', sa.JSON(), nullable=True),
    sa.Column('clawed_days', sa.BigInteger(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('paid_ms', sa.BigInteger(), nullable=True),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('clawed_days >= 0', name=op.f('ck_payments_payment_clawed_not_negative')),
    sa.CheckConstraint('days >= 0', name=op.f('ck_payments_payment_days_not_negative')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_payments_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_charge', ['stripe_charge'], unique=False)
        batch_op.create_index('ix_payments_partner', ['partner_id', 'kind', 'created_ms'], unique=False)
        batch_op.create_index('uq_payments_checkout', ['stripe_checkout_session'], unique=True)
        batch_op.create_index('uq_payments_intent', ['stripe_payment_intent'], unique=True)
        batch_op.create_index('uq_payments_partner_period', ['partner_id', 'period'], unique=True)
        batch_op.create_index('uq_payments_stripe_invoice', ['stripe_invoice'], unique=True)

    op.create_table('subscriptions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('partner_id', sa.String(length=28), nullable=False),
    sa.Column('channel_id', sa.String(length=12), nullable=False),
    sa.Column('interval', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('days_per_period', sa.BigInteger(), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('discount_percent', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('total', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('payment_url', sa.Text(), nullable=True),
    sa.Column('stripe_checkout_session', sa.String(length=255), nullable=True),
    sa.Column('stripe_subscription', sa.String(length=255), nullable=True),
    sa.Column('current_period_end_ms', sa.BigInteger(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_subscriptions_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_channel', ['channel_id', 'created_ms'], unique=False)
        batch_op.create_index('uq_subscriptions_checkout', ['stripe_checkout_session'], unique=True)
        batch_op.create_index('uq_subscriptions_stripe', ['stripe_subscription'], unique=True)

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('debt_delta', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_index('uq_ledger_payment_credit', ['payment_id'], unique=True, sqlite_where=CREDITS,
                                 postgresql_where=CREDITS)

    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('debt_days', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('discounts', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('annual_discount_percent', sa.Numeric(precision=7, scale=4), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('invoice_billing', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('billing_details', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('stripe_customer_id', sa.String(length=255), nullable=True))
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot add a constraint without rebuilding the table
        op.create_check_constraint(op.f('ck_partners_debt_not_negative'), 'partners', 'debt_days >= 0')



def downgrade() -> None:
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.drop_column('stripe_customer_id')
        batch_op.drop_column('billing_details')
        batch_op.drop_column('invoice_billing')
        batch_op.drop_column('annual_discount_percent')
        batch_op.drop_column('discounts')
        batch_op.drop_column('debt_days')

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_payment_credit', sqlite_where=CREDITS,
                                 postgresql_where=CREDITS)
        batch_op.drop_column('debt_delta')
        batch_op.drop_column('payment_id')

    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('uq_subscriptions_stripe')
        batch_op.drop_index('uq_subscriptions_checkout')
        batch_op.drop_index('ix_subscriptions_channel')

    op.drop_table('subscriptions')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('uq_payments_stripe_invoice')
        batch_op.drop_index('uq_payments_partner_period')
        batch_op.drop_index('uq_payments_intent')
        batch_op.drop_index('uq_payments_checkout')
        batch_op.drop_index('ix_payments_partner')
        batch_op.drop_index('ix_payments_charge')

    op.drop_table('payments')
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_methods_partner')

    op.drop_table('payment_methods')
    op.drop_table('autorecharge_rules')
    op.drop_table('stripe_events')
    op.drop_table('operator_settings')
