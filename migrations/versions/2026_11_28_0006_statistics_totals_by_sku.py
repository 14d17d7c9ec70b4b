"""stat_sku_total: the cells of each SKU over all time, folded from stat_sku_month.

A view by SKU over most of the history reads the total less the months outside the period,
one row per SKU, instead of a row per SKU and month. Filled here from the months already
stored, and kept from now on in the same transactions as the other grains.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = ("parcels", "units", "first_pass", "shipped", "packing_s", "defective", "defects")


def upgrade() -> None:
    op.create_table('stat_sku_total',
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('stage', sa.String(length=8), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    *[sa.Column(m, sa.Integer(), nullable=False) for m in MEASURES],
    sa.PrimaryKeyConstraint('kind', 'stage', 'sku_id', name=op.f('pk_stat_sku_total')),
    sqlite_with_rowid=False,
    )
    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    names = ", ".join(MEASURES)
    op.execute(
        f"INSERT INTO stat_sku_total (kind, stage, sku_id, {names}) "
        f"SELECT kind, stage, sku_id, {sums} FROM stat_sku_month GROUP BY kind, stage, sku_id"
    )


def downgrade() -> None:
    op.drop_table('stat_sku_total')
