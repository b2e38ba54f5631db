"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 14:41:01.664778
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.String(length=28), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('channel_id', sa.String(length=12), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_partner', ['partner_id', 'id'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('scope', 'key', name='uq_idempotency_scope_key')
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_created', ['created_ms'], unique=False)

    op.create_table('partners',
    sa.Column('id', sa.String(length=28), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('price_per_month', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('trial_eligible', sa.Boolean(), nullable=False),
    sa.Column('trial_days', sa.Integer(), nullable=False),
    sa.Column('days_limit', sa.Integer(), nullable=False),
    sa.Column('sandbox_limit', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_partners_balance_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners')),
    sa.UniqueConstraint('name', name=op.f('uq_partners_name'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('partner_id', sa.String(length=28), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=True),
    sa.Column('revoked_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_api_tokens_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.String(length=28), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('type', sa.String(length=24), nullable=False),
    sa.Column('days', sa.BigInteger(), nullable=False),
    sa.Column('balance_delta', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('channel_id', sa.String(length=12), nullable=True),
    sa.Column('channel_days', sa.BigInteger(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.CheckConstraint('balance_after >= 0', name=op.f('ck_ledger_entries_balance_after_not_negative')),
    sa.CheckConstraint('days >= 0', name=op.f('ck_ledger_entries_days_not_negative')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_ledger_entries_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_channel', ['channel_id', 'id'], unique=False)
        batch_op.create_index('ix_ledger_partner_time', ['partner_id', 'id'], unique=False)

    op.create_table('projects',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('partner_id', sa.String(length=28), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('deleted_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_projects_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index('ix_projects_partner', ['partner_id', 'created_ms'], unique=False)

    op.create_table('channels',
    sa.Column('id', sa.String(length=12), nullable=False),
    sa.Column('partner_id', sa.String(length=28), nullable=False),
    sa.Column('project_id', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('api_url', sa.String(length=500), nullable=False),
    sa.Column('server', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('stopped', sa.Boolean(), nullable=False),
    sa.Column('expired', sa.Boolean(), nullable=False),
    sa.Column('active_till_ms', sa.BigInteger(), nullable=False),
    sa.Column('trial_ms', sa.BigInteger(), nullable=True),
    sa.Column('connection_status', sa.String(length=16), nullable=False),
    sa.Column('phone', sa.String(length=15), nullable=True),
    sa.Column('recurrent_payment_id', sa.String(length=100), nullable=True),
    sa.Column('prev_recurrent_payment_id', sa.String(length=100), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('deleted_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_channels_partner_id_partners')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_channels_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels')),
    sa.UniqueConstraint('token', name=op.f('uq_channels_token'))
    )
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.create_index(
            'ix_channels_expiry_due', ['active_till_ms'], unique=False,
            sqlite_where=sa.text("expired = 0 AND deleted_ms IS NULL AND mode IN ('trial', 'live')"),
            postgresql_where=sa.text("NOT expired AND deleted_ms IS NULL AND mode IN ('trial', 'live')"))
        batch_op.create_index('ix_channels_partner', ['partner_id', 'created_ms'], unique=False)
        batch_op.create_index('ix_channels_project', ['project_id'], unique=False)



    _append_only_ledger()


def _append_only_ledger() -> None:
    """Ledger entries are never edited or removed; corrections are new entries."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_entries_no_{verb.lower()} BEFORE {verb} ON ledger_entries "
                "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'ledger entries are append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries "
            "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
        )

def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries")
        op.execute("DROP FUNCTION IF EXISTS ledger_entries_append_only()")
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_index('ix_channels_project')
        batch_op.drop_index('ix_channels_partner')
        batch_op.drop_index(
            'ix_channels_expiry_due',
            sqlite_where=sa.text("expired = 0 AND deleted_ms IS NULL AND mode IN ('trial', 'live')"),
            postgresql_where=sa.text("NOT expired AND deleted_ms IS NULL AND mode IN ('trial', 'live')"))

    op.drop_table('channels')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index('ix_projects_partner')

    op.drop_table('projects')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_partner_time')
        batch_op.drop_index('ix_ledger_channel')

    op.drop_table('ledger_entries')
    op.drop_table('api_tokens')
    op.drop_table('partners')
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_created')

    op.drop_table('idempotency_keys')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_partner')

    op.drop_table('events')
