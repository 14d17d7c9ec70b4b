"""Sums of rollup cells for the statistics, read from the coarsest grain that can answer.

- Cells of every SKU come from stat_day (per local day, bench and packer).
- Cells by SKU come from stat_sku_month for the whole months inside the period and from
  stat_sku_day for the days at its edges, or from stat_sku_day alone when grouped by day.
  When the history has fewer whole months outside the period than inside it, the period is
  read instead as stat_sku_total less what lies outside it: fewer rows per SKU.
- Cells by SKU narrowed to, or grouped by, a bench or packer come from stat_cell, the only
  grain that keeps both.

Each kind is asked for by equality (`kind IN (...)`), never as `kind != ''`: every grain's key
starts (kind, stage, day), so each kind and stage is one range of days in its index.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from qc.enums import DefectKind, Stage
from qc.rollup_cells import ALL_SKUS
from qc.rollup_grains import DAY, SKU_DAY, SKU_MONTH, SKU_TOTAL, month_of
from qc.rollups import CELLS

KINDS = [k.value for k in DefectKind]
Key = Literal["day", "station", "packer", "sku", "kind"] | None
EACH_SKU = "each"  # every SKU apart, and -1 (defects of no SKU)
EACH_PACKED = "packed"  # every SKU apart, those that can be packed only
EACH_KIND = "each"  # every defect kind apart
EACH_STAGE = "each"  # caught and escaped apart: each defect counted once, in its own stage
STAGES = [s.value for s in Stage]


@dataclass
class Sums:
    parcels: int = 0
    units: int = 0
    first_pass: int = 0
    shipped: int = 0
    packing_s: int = 0
    defective: int = 0
    defects: int = 0


@dataclass(frozen=True)
class Ask:
    """Which cells to sum: one SKU id, ALL_SKUS, EACH_SKU or EACH_PACKED; kind '' (every
    kind), a kind or EACH_KIND; stage '' (either), 'caught', 'escaped' or EACH_STAGE; days;
    bench; packer."""

    start: date
    end: date
    sku: int | str
    kind: str
    stage: str
    station: int | None = None
    packer: int | None = None


_COLUMN = {"day": "local_day", "station": "station_id", "packer": "packer_id", "sku": "sku_id",
           "kind": "kind"}  # fmt: skip


# (table, first, last, +1 to add or -1 to take away); None: no bound on that side
Source = tuple[sa.Table, date | None, date | None, int]
History = Callable[[], tuple[date, date] | None]  # the first and last month with cells by SKU
DAY_1 = timedelta(days=1)


def _sources(ask: Ask, key: Key, history: History) -> Iterator[Source]:
    """What to read; for stat_sku_month first and last are months (their first days)."""
    if ask.sku == ALL_SKUS:
        yield DAY, ask.start, ask.end, 1
    elif ask.station is not None or ask.packer is not None or key in ("station", "packer"):
        yield CELLS, ask.start, ask.end, 1
    elif key == "day":
        yield SKU_DAY, ask.start, ask.end, 1
    else:
        yield from _by_months(ask.start, ask.end, history)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _months(first: date, after: date) -> int:
    """How many months from `first` up to, not including, `after` (both first days)."""
    return max(0, (after.year - first.year) * 12 + after.month - first.month)


def _by_months(start: date, end: date, history: History) -> Iterator[Source]:
    """Whole months from stat_sku_month, and the days of a month the period covers in part;
    or, when the history has fewer whole months outside the period than inside it, the total
    less what lies outside."""
    whole_first = month_of(start) if start.day == 1 else _next_month(start)
    whole_after = month_of(end + DAY_1)  # the month after the last whole one
    inside = _months(whole_first, whole_after)
    if inside > 1:
        span = history()
        if span is not None:
            outside = _months(span[0], whole_first) + _months(whole_after, _next_month(span[1]))
            if outside + 1 < inside:
                yield from _all_but(start, end)
                return
    if whole_first < whole_after:
        yield SKU_MONTH, whole_first, whole_after - DAY_1, 1
        if start < whole_first:
            yield from _days(start, whole_first - DAY_1, 1)
        if whole_after <= end:
            yield from _days(whole_after, end, 1)
        return
    month = month_of(start)
    while month <= end:
        yield from _days(max(start, month), min(end, _next_month(month) - DAY_1), 1)
        month = _next_month(month)


def _all_but(start: date, end: date) -> Iterator[Source]:
    """stat_sku_total less the months before and after the period's first and last month,
    and less the days of those two months outside it (the period spans several months)."""
    yield SKU_TOTAL, None, None, 1
    yield SKU_MONTH, None, month_of(start) - DAY_1, -1
    yield SKU_MONTH, _next_month(end), None, -1
    if start.day > 1:
        yield from _days(month_of(start), start - DAY_1, -1)
    if end + DAY_1 < _next_month(end):
        yield from _days(end + DAY_1, _next_month(end) - DAY_1, -1)


def _days(first: date, last: date, sign: int) -> Iterator[Source]:
    """Days of one month, added (sign 1) or taken away (-1): by day when they are at most
    half the month, else as the whole month less (or plus) its other days."""
    month, month_last = month_of(first), _next_month(first) - DAY_1
    if 2 * ((last - first).days + 1) <= month_last.day:
        yield SKU_DAY, first, last, sign
        return
    yield SKU_MONTH, month, month, sign
    if first > month:
        yield SKU_DAY, month, first - DAY_1, -sign
    if last < month_last:
        yield SKU_DAY, last + DAY_1, month_last, -sign


def _query(source: Source, ask: Ask, key: Key) -> sa.Select[Any]:
    table, first, last, sign = source
    c = table.c
    stage = c.stage.in_(STAGES) if ask.stage == EACH_STAGE else c.stage == ask.stage
    clauses: list[Any] = [stage]
    if table is not SKU_TOTAL:
        when = c.month if table is SKU_MONTH else c.local_day
        clauses += [when >= first] if first is not None else []
        clauses += [when <= last] if last is not None else []
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
    sums = [(sign * sa.func.sum(c[f.name])).label(f.name) for f in fields(Sums)]
    if key is None:
        return sa.select(*sums).where(*clauses)
    column = c[_COLUMN[key]]
    return sa.select(column.label("key"), *sums).where(*clauses).group_by(column)


def sums(connection: sa.Connection, ask: Ask, key: Key = None) -> dict[Any, Sums]:
    """The cells asked for, summed per key (one entry, None, when there is no key); keys
    whose sums are all zero are left out.

    Several sources are summed in the database (UNION ALL under one GROUP BY), so that a
    view by SKU fetches one row per SKU, not one per SKU and source.
    """
    parts = [_query(s, ask, key) for s in _sources(ask, key, lambda: _history(connection))]
    query = parts[0]
    if len(parts) > 1:
        union = sa.union_all(*parts).subquery()
        measures = [sa.func.sum(union.c[f.name]).label(f.name) for f in fields(Sums)]
        query = (
            sa.select(union.c.key, *measures).group_by(union.c.key)
            if key is not None
            else sa.select(*measures)
        )
    out = {}
    for row in connection.execute(query):
        k, values = (row[0], row[1:]) if key is not None else (None, row)
        if any(values):
            out[k] = Sums(*(int(v or 0) for v in values))
    return out


def _history(connection: sa.Connection) -> tuple[date, date] | None:
    """The first and last month with cells by SKU (of every kind and stage): two index probes.
    Asked as two subqueries: SQLite reads one end of the index for a lone MIN or MAX, but
    scans the whole range for both in one SELECT."""
    month = SKU_MONTH.c.month
    every = (SKU_MONTH.c.kind == "", SKU_MONTH.c.stage == "")
    ends = [sa.select(f(month)).where(*every).scalar_subquery() for f in (sa.func.min, sa.func.max)]
    first, last = connection.execute(sa.select(*ends)).one()
    if first is None or last is None:
        return None
    return first, last


def total(connection: sa.Connection, ask: Ask) -> Sums:
    return sums(connection, ask).get(None) or Sums()
