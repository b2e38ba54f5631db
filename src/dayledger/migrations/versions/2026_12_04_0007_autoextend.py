"""autoextend: auto-extend policies (a channel's own, or its project's default), the cycles
each has made of each channel, and one ledger entry per cycle (a unique index on the
worker's idempotency keys)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:00:00
"""
from alembic import op
import sqlalchemy as sa

# The auto-extend worker's entries (see models/ledger_entry.py).
AUTOEXTEND = sa.text("actor_type = 'system' AND actor_id = 'autoextend'")


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('autoextend_policies',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('partner_id', sa.String(length=28), nullable=False),
    sa.Column('channel_id', sa.String(length=12), nullable=True),
    sa.Column('project_id', sa.String(length=20), nullable=True),
    sa.Column('below_days', sa.BigInteger(), nullable=False),
    sa.Column('extend_days', sa.BigInteger(), nullable=False),
    sa.Column('until_ms', sa.BigInteger(), nullable=True),
    sa.Column('budget_days', sa.BigInteger(), nullable=True),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('spent_days', sa.BigInteger(), nullable=False),
    sa.Column('last_extended_ms', sa.BigInteger(), nullable=True),
    sa.Column('last_failure', sa.JSON(), nullable=True),
    sa.Column('failing', sa.Boolean(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('(channel_id IS NULL) <> (project_id IS NULL)',
                       name=op.f('ck_autoextend_policies_one_target')),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_autoextend_policies_channel_id_channels')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_autoextend_policies_partner_id_partners')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_autoextend_policies_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_autoextend_policies')),
    sa.UniqueConstraint('channel_id', name=op.f('uq_autoextend_policies_channel_id')),
    sa.UniqueConstraint('project_id', name=op.f('uq_autoextend_policies_project_id'))
    )
    op.create_index('ix_autoextend_policies_partner', 'autoextend_policies', ['partner_id'], unique=False)
    op.create_table('autoextend_cycles',
    sa.Column('policy_id', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=12), nullable=False),
    sa.Column('cycles', sa.BigInteger(), nullable=False),
    sa.Column('tried_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['policy_id'], ['autoextend_policies.id'],
                            name=op.f('fk_autoextend_cycles_policy_id_autoextend_policies')),
    sa.PrimaryKeyConstraint('policy_id', 'channel_id', name=op.f('pk_autoextend_cycles'))
    )
    # Not through batch_alter_table: on SQLite that could rebuild ledger_entries and drop
    # its append-only triggers; an index needs no rebuild.
    op.create_index('uq_ledger_autoextend_key', 'ledger_entries', ['idempotency_key'], unique=True,
                    sqlite_where=AUTOEXTEND, postgresql_where=AUTOEXTEND)


def downgrade() -> None:
    op.drop_index('uq_ledger_autoextend_key', table_name='ledger_entries')
    op.drop_table('autoextend_cycles')
    op.drop_index('ix_autoextend_policies_partner', table_name='autoextend_policies')
    op.drop_table('autoextend_policies')
