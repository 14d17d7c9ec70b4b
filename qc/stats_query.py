"""Sums of rollup cells for the statistics, read from the coarsest grain that can answer.

- Cells of every SKU come from stat_day (per local day, bench and packer).
- Cells by SKU come from stat_sku_month for the whole months inside the period and from
  stat_sku_day for the days at its edges, or from stat_sku_day alone when grouped by day.
- Cells by SKU narrowed to, or grouped by, a bench or packer come from stat_cell, the only
  grain that keeps both.

Each kind is asked for by equality (`kind IN (...)`), never as `kind != ''`: every grain's key
starts (kind, stage, day), so each kind and stage is one range of days in its index.
"""

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from qc.enums import DefectKind
from qc.rollup_cells import ALL_SKUS
from qc.rollup_grains import DAY, SKU_DAY, SKU_MONTH, month_of
from qc.rollups import CELLS

KINDS = [k.value for k in DefectKind]
Key = Literal["day", "station", "packer", "sku", "kind"] | None
EACH_SKU = "each"  # every SKU apart, and -1 (defects of no SKU)
EACH_PACKED = "packed"  # every SKU apart, those that can be packed only
EACH_KIND = "each"  # every defect kind apart


@dataclass
class Sums:
    parcels: int = 0
    units: int = 0
    first_pass: int = 0
    shipped: int = 0
    packing_s: int = 0
    defective: int = 0
    defects: int = 0

    def add(self, row: Any) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + int(getattr(row, f.name) or 0))


@dataclass(frozen=True)
class Ask:
    """Which cells to sum: one SKU id, ALL_SKUS, EACH_SKU or EACH_PACKED; kind '' (every
    kind), a kind or EACH_KIND; stage '' (either), 'caught' or 'escaped'; days; bench; packer."""

    start: date
    end: date
    sku: int | str
    kind: str
    stage: str
    station: int | None = None
    packer: int | None = None


_COLUMN = {"day": "local_day", "station": "station_id", "packer": "packer_id", "sku": "sku_id",
           "kind": "kind"}  # fmt: skip


def _sources(ask: Ask, key: Key) -> Iterator[tuple[sa.Table, date, date]]:
    """(table, first, last) to read; for stat_sku_month first and last are months."""
    if ask.sku == ALL_SKUS:
        yield DAY, ask.start, ask.end
    elif ask.station is not None or ask.packer is not None or key in ("station", "packer"):
        yield CELLS, ask.start, ask.end
    elif key == "day":
        yield SKU_DAY, ask.start, ask.end
    else:
        first = month_of(ask.start) if ask.start.day == 1 else _next_month(ask.start)
        after = month_of(ask.end + timedelta(days=1))  # the month after the last whole one
        if first >= after:
            yield SKU_DAY, ask.start, ask.end
            return
        yield SKU_MONTH, first, after - timedelta(days=1)
        if ask.start < first:
            yield SKU_DAY, ask.start, first - timedelta(days=1)
        if after <= ask.end:
            yield SKU_DAY, after, ask.end


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _query(table: sa.Table, first: date, last: date, ask: Ask, key: Key) -> sa.Select[Any]:
    c = table.c
    when = c.month if table is SKU_MONTH else c.local_day
    clauses: list[Any] = [when.between(first, last), c.stage == ask.stage]
    clauses.append(c.kind.in_(KINDS) if ask.kind == EACH_KIND else c.kind == ask.kind)
    if table is CELLS or "sku_id" in c:
        if ask.sku == EACH_SKU:
            clauses.append(c.sku_id != ALL_SKUS)
        elif ask.sku == EACH_PACKED:
            clauses.append(c.sku_id > ALL_SKUS)
        else:
            clauses.append(c.sku_id == ask.sku)
    if ask.station is not None:
        clauses.append(c.station_id == ask.station)
    if ask.packer is not None:
        clauses.append(c.packer_id == ask.packer)
    sums = [sa.func.sum(c[f.name]).label(f.name) for f in fields(Sums)]
    if key is None:
        return sa.select(*sums).where(*clauses)
    column = c[_COLUMN[key]]
    return sa.select(column.label("key"), *sums).where(*clauses).group_by(column)


def sums(connection: sa.Connection, ask: Ask, key: Key = None) -> dict[Any, Sums]:
    """The cells asked for, summed per key (one entry, None, when there is no key)."""
    acc: dict[Any, list[int]] = {}
    for table, first, last in _sources(ask, key):
        for row in connection.execute(_query(table, first, last, ask, key)):
            k, values = (row[0], row[1:]) if key is not None else (None, row)
            if key is None and all(v is None for v in values):
                continue  # no cell at all: SUM over no rows
            found = acc.get(k)
            if found is None:
                acc[k] = [int(v or 0) for v in values]
            else:
                for i, v in enumerate(values):
                    found[i] += int(v or 0)
    return {k: Sums(*values) for k, values in acc.items()}


def total(connection: sa.Connection, ask: Ask) -> Sums:
    return sums(connection, ask).get(None) or Sums()
