"""Statistics rollups (stat_cell, stat_confusion), and when a parcel was voided.

A void no longer overwrites closed_at: a parcel held and then voided was closed, and counts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 22:07:07.505171
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stat_cell',
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('packer_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('stage', sa.String(length=8), nullable=False),
    sa.Column('parcels', sa.Integer(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('first_pass', sa.Integer(), nullable=False),
    sa.Column('shipped', sa.Integer(), nullable=False),
    sa.Column('packing_s', sa.Integer(), nullable=False),
    sa.Column('defective', sa.Integer(), nullable=False),
    sa.Column('defects', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('local_day', 'hour', 'station_id', 'packer_id', 'sku_id', 'kind', 'stage', name=op.f('pk_stat_cell'))
    )
    op.create_index(op.f('ix_stat_cell_lookup'), 'stat_cell', ['sku_id', 'kind', 'stage', 'local_day'], unique=False)

    op.create_table('stat_confusion',
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('packer_id', sa.Integer(), nullable=False),
    sa.Column('expected_id', sa.Integer(), nullable=False),
    sa.Column('scanned_id', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('local_day', 'station_id', 'packer_id', 'expected_id', 'scanned_id', name=op.f('pk_stat_confusion'))
    )
    op.add_column('parcel', sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
    # Before this revision a void wrote its time into closed_at; it is the best guess there is.
    op.execute("UPDATE parcel SET voided_at = closed_at WHERE status = 'voided'")

def downgrade() -> None:
    with op.batch_alter_table('parcel') as batch_op:
        batch_op.drop_column('voided_at')

    op.drop_table('stat_confusion')
    op.drop_index(op.f('ix_stat_cell_lookup'), table_name='stat_cell')

    op.drop_table('stat_cell')
