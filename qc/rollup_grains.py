"""The coarser rollups, folded from stat_cell's hourly cells so that long periods read few rows.

stat_cell keeps every cell per local day, UTC hour, bench, packer, SKU, kind and stage: a
warehouse closes parcels in a few hundred (hour, bench, packer) combinations a day, so over
years it holds nearly a row per parcel line. The statistics read three coarser grains instead:

- stat_day: the cells of every SKU per local day, bench and packer (no hour);
- stat_sku_day: the cells of one SKU per local day (no hour, bench or packer);
- stat_sku_month: the same per calendar month;
- stat_sku_total: the same over all time, so that a period covering most of the history is
  the total less the months outside it.

Each is a plain sum of stat_cell's cells, so it is kept with the same increments in the same
transaction, rebuilt from the same recount, and checked the same way.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from qc.models import StatDay, StatSkuDay, StatSkuMonth, StatSkuTotal
from qc.rollup_cells import ALL_SKUS, MEASURES, Counts

CellRow = tuple[Any, ...]  # (local_day, hour, station_id, packer_id, sku_id, kind, stage)
GrainKey = tuple[Any, ...]

DAY: sa.Table = StatDay.__table__  # type: ignore[attr-defined]
SKU_DAY: sa.Table = StatSkuDay.__table__  # type: ignore[attr-defined]
SKU_MONTH: sa.Table = StatSkuMonth.__table__  # type: ignore[attr-defined]
SKU_TOTAL: sa.Table = StatSkuTotal.__table__  # type: ignore[attr-defined]


def month_of(day: date) -> date:
    return day.replace(day=1)


@dataclass(frozen=True)
class Grain:
    table: sa.Table
    columns: tuple[str, ...]  # the primary key, in the order `key` gives it
    key: Callable[[CellRow], GrainKey | None]  # None: the cell is not in this grain


def _day(c: CellRow) -> GrainKey | None:
    return (c[5], c[6], c[0], c[2], c[3]) if c[4] == ALL_SKUS else None


def _sku_day(c: CellRow) -> GrainKey | None:
    return (c[5], c[6], c[0], c[4]) if c[4] != ALL_SKUS else None


def _sku_month(c: CellRow) -> GrainKey | None:
    return (c[5], c[6], month_of(c[0]), c[4]) if c[4] != ALL_SKUS else None


def _sku_total(c: CellRow) -> GrainKey | None:
    return (c[5], c[6], c[4]) if c[4] != ALL_SKUS else None


BY_DAY = Grain(DAY, ("kind", "stage", "local_day", "station_id", "packer_id"), _day)
BY_SKU_DAY = Grain(SKU_DAY, ("kind", "stage", "local_day", "sku_id"), _sku_day)
BY_SKU_MONTH = Grain(SKU_MONTH, ("kind", "stage", "month", "sku_id"), _sku_month)
BY_SKU_TOTAL = Grain(SKU_TOTAL, ("kind", "stage", "sku_id"), _sku_total)
GRAINS = (BY_DAY, BY_SKU_DAY, BY_SKU_MONTH, BY_SKU_TOTAL)


def fold(grain: Grain, cells: Mapping[CellRow, Counts], into: dict[GrainKey, Counts]) -> None:
    """Add hourly cells (or increments of them) into `into`, keyed by the grain."""
    for cell, counts in cells.items():
        key = grain.key(cell)
        if key is None:
            continue
        acc = into.setdefault(key, {})
        for name, value in counts.items():
            acc[name] = acc.get(name, 0) + value


def rows(grain: Grain, folded: Mapping[GrainKey, Counts]) -> list[dict[str, Any]]:
    """Table rows for folded cells, cells that sum to nothing left out, in key order."""
    out = []
    for key, counts in sorted(folded.items()):
        if any(counts.values()):
            out.append(dict(zip(grain.columns, key, strict=True)) |
                       {m: counts.get(m, 0) for m in MEASURES})  # fmt: skip
    return out


def stored(connection: sa.Connection, grain: Grain, where: Any) -> dict[GrainKey, Counts]:
    """A grain's stored rows matching `where`, zero measures left out, as `fold` keys them."""
    out = {}
    for row in connection.execute(sa.select(grain.table).where(where)):
        counts = {m: getattr(row, m) for m in MEASURES if getattr(row, m)}
        if counts:
            out[tuple(getattr(row, c) for c in grain.columns)] = counts
    return out
