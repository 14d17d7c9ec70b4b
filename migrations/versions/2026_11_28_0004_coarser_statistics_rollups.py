"""Coarser statistics rollups folded from stat_cell: stat_day, stat_sku_day, stat_sku_month.

stat_cell holds nearly a row per parcel line over years (it is per UTC hour, bench and packer),
too many for long periods to read fast. The new tables are sums of it, filled here from the
cells already stored, and kept from now on in the same transactions (qc.rollup_grains).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = ("parcels", "units", "first_pass", "shipped", "packing_s", "defective", "defects")


def _measures() -> list[sa.Column]:
    return [sa.Column(m, sa.Integer(), nullable=False) for m in MEASURES]


def upgrade() -> None:
    op.create_table('stat_day',
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('stage', sa.String(length=8), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('packer_id', sa.Integer(), nullable=False),
    *_measures(),
    sa.PrimaryKeyConstraint('kind', 'stage', 'local_day', 'station_id', 'packer_id', name=op.f('pk_stat_day')),
    sqlite_with_rowid=False,
    )
    op.create_table('stat_sku_day',
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('stage', sa.String(length=8), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    *_measures(),
    sa.PrimaryKeyConstraint('kind', 'stage', 'local_day', 'sku_id', name=op.f('pk_stat_sku_day')),
    sqlite_with_rowid=False,
    )
    op.create_index('ix_stat_sku_day_sku', 'stat_sku_day', ['sku_id', 'kind', 'stage', 'local_day'], unique=False)
    op.create_table('stat_sku_month',
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('stage', sa.String(length=8), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    *_measures(),
    sa.PrimaryKeyConstraint('kind', 'stage', 'month', 'sku_id', name=op.f('pk_stat_sku_month')),
    sqlite_with_rowid=False,
    )
    op.create_index('ix_stat_sku_month_sku', 'stat_sku_month', ['sku_id', 'kind', 'stage', 'month'], unique=False)

    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    names = ", ".join(MEASURES)
    op.execute(
        f"INSERT INTO stat_day (kind, stage, local_day, station_id, packer_id, {names}) "
        f"SELECT kind, stage, local_day, station_id, packer_id, {sums} FROM stat_cell "
        "WHERE sku_id = 0 GROUP BY kind, stage, local_day, station_id, packer_id"
    )
    op.execute(
        f"INSERT INTO stat_sku_day (kind, stage, local_day, sku_id, {names}) "
        f"SELECT kind, stage, local_day, sku_id, {sums} FROM stat_cell "
        "WHERE sku_id != 0 GROUP BY kind, stage, local_day, sku_id"
    )
    if op.get_bind().dialect.name == "sqlite":
        month = "date(local_day, 'start of month')"
    else:
        month = "CAST(date_trunc('month', local_day) AS date)"
    op.execute(
        f"INSERT INTO stat_sku_month (kind, stage, month, sku_id, {names}) "
        f"SELECT kind, stage, {month}, sku_id, {sums} FROM stat_sku_day "
        f"GROUP BY kind, stage, {month}, sku_id"
    )


def downgrade() -> None:
    op.drop_index('ix_stat_sku_month_sku', table_name='stat_sku_month')
    op.drop_table('stat_sku_month')
    op.drop_index('ix_stat_sku_day_sku', table_name='stat_sku_day')
    op.drop_table('stat_sku_day')
    op.drop_table('stat_day')
