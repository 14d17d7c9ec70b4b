"""Recomputing the statistics rollups from the raw rows: to rebuild them, or to prove them right.

Parcels are read in the order they closed, a batch at a time, so the cells of one local day
are complete when the next day starts and only one day's cells are ever held in memory.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qc.models import Defect, Override, Parcel, ParcelLine
from qc.rollup_cells import MEASURES, Counts, cells
from qc.rollup_grains import (
    BY_DAY,
    BY_SKU_DAY,
    BY_SKU_MONTH,
    BY_SKU_TOTAL,
    DAY,
    GRAINS,
    SKU_DAY,
    SKU_MONTH,
    SKU_TOTAL,
    CellRow,
    GrainKey,
    fold,
    month_of,
    stored,
)
from qc.rollup_grains import rows as grain_rows
from qc.rollups import CELLS, CONFUSIONS, cell_row, parcel_facts, place_of, wrong_items

ConfusionRow = tuple[date, int, int, int, int]


@dataclass
class Day:
    local_day: date
    cells: dict[CellRow, Counts] = field(default_factory=dict)
    confusions: dict[ConfusionRow, int] = field(default_factory=lambda: defaultdict(int))


def _by_parcel(rows: list[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        out[row.parcel_id].append(row)
    return out


def recount(session: Session, zone: ZoneInfo, *, batch: int = 2000) -> Iterator[Day]:
    """Every local day's cells, recomputed from parcels, lines, defects and overrides.

    Read as plain rows, not ORM objects: a million parcels must not pass through the session's
    identity map (and emptying it under a running `yield_per` query breaks the query).
    """
    parcels: sa.Table = Parcel.__table__  # type: ignore[attr-defined]
    lines_t: sa.Table = ParcelLine.__table__  # type: ignore[attr-defined]
    defects_t: sa.Table = Defect.__table__  # type: ignore[attr-defined]
    connection = session.connection()
    query = (
        sa.select(parcels)
        .where(parcels.c.closed_at.is_not(None))
        .order_by(parcels.c.closed_at, parcels.c.id)
        .execution_options(yield_per=batch)
    )
    day: Day | None = None
    for chunk in connection.execute(query).partitions():
        ids = [p.id for p in chunk]
        lines = _by_parcel(
            list(connection.execute(sa.select(lines_t).where(lines_t.c.parcel_id.in_(ids))))
        )
        defects = _by_parcel(
            list(connection.execute(sa.select(defects_t).where(defects_t.c.parcel_id.in_(ids))))
        )
        overridden = set(
            session.exec(select(Override.parcel_id).where(col(Override.parcel_id).in_(ids)))
        )
        for parcel in chunk:
            place = place_of(parcel, zone)
            if day is None or place.local_day != day.local_day:
                if day is not None:
                    yield day
                day = Day(place.local_day)
            facts = parcel_facts(
                parcel, lines[parcel.id], defects[parcel.id], parcel.id in overridden
            )
            where = (place.local_day, place.hour, place.station_id, place.packer_id)
            for (sku, kind, stage), counts in cells(facts).items():
                cell = day.cells.setdefault((*where, sku, kind, stage), {})
                for name, value in counts.items():
                    cell[name] = cell.get(name, 0) + value
            for (expected, scanned), n in wrong_items(defects[parcel.id]).items():
                day.confusions[
                    (place.local_day, place.station_id, place.packer_id, expected, scanned)
                ] += n
    if day is not None:
        yield day


def rebuild(session: Session, zone: ZoneInfo, *, batch: int = 2000) -> tuple[int, int]:
    """Replace the rollups with a recount (in the caller's transaction); (days, cells) written.

    The coarser grains are folded from each day's recounted cells; a month's cells by SKU are
    written when the recount moves on to the next month, the totals by SKU at the end.
    """
    for table in (CELLS, CONFUSIONS, *(g.table for g in GRAINS)):
        session.connection().execute(table.delete())
    days = written = 0
    connection = session.connection()
    month: dict[GrainKey, Counts] = {}
    total: dict[GrainKey, Counts] = {}
    current: date | None = None
    for day in recount(session, zone, batch=batch):
        if current is not None and month_of(day.local_day) != current:
            _insert(connection, SKU_MONTH, grain_rows(BY_SKU_MONTH, month))
            month = {}
        current = month_of(day.local_day)
        _insert(connection, CELLS, [cell_row(key, counts) for key, counts in day.cells.items()])
        for grain in (BY_DAY, BY_SKU_DAY):
            folded: dict[GrainKey, Counts] = {}
            fold(grain, day.cells, folded)
            _insert(connection, grain.table, grain_rows(grain, folded))
        fold(BY_SKU_MONTH, day.cells, month)
        fold(BY_SKU_TOTAL, day.cells, total)
        pairs = [_confusion_row(key, n) for key, n in day.confusions.items()]
        _insert(connection, CONFUSIONS, pairs)
        days, written = days + 1, written + len(day.cells)
    _insert(connection, SKU_MONTH, grain_rows(BY_SKU_MONTH, month))
    _insert(connection, SKU_TOTAL, grain_rows(BY_SKU_TOTAL, total))
    return days, written


def _insert(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 5000):
        connection.execute(table.insert(), rows[start : start + 5000])


def _confusion_row(key: ConfusionRow, n: int) -> dict[str, Any]:
    local_day, station_id, packer_id, expected_id, scanned_id = key
    return {"local_day": local_day, "station_id": station_id, "packer_id": packer_id,
            "expected_id": expected_id, "scanned_id": scanned_id, "count": n}  # fmt: skip


def _stored_cells(session: Session, local_day: date) -> dict[CellRow, Counts]:
    query = sa.select(CELLS).where(CELLS.c.local_day == local_day)
    out = {}
    for c in session.connection().execute(query):
        key = (c.local_day, c.hour, c.station_id, c.packer_id, c.sku_id, c.kind, c.stage)
        counts = {m: getattr(c, m) for m in MEASURES if getattr(c, m)}
        if counts:
            out[key] = counts
    return out


def _compare(what: str, stored: dict[Any, Counts], recounted: dict[Any, Counts]) -> list[str]:
    recounted = {k: {m: v for m, v in c.items() if v} for k, c in recounted.items()}
    recounted = {k: c for k, c in recounted.items() if c}
    return [
        f"{what} {key}: stored {stored.get(key, {})}, recounted {recounted.get(key, {})}"
        for key in sorted(stored.keys() | recounted.keys(), key=str)
        if stored.get(key, {}) != recounted.get(key, {})
    ]


def _day_differences(session: Session, day: Day) -> list[str]:
    connection = session.connection()
    found = _compare("stat_cell", _stored_cells(session, day.local_day), day.cells)
    for grain in (BY_DAY, BY_SKU_DAY):
        folded: dict[GrainKey, Counts] = {}
        fold(grain, day.cells, folded)
        where = grain.table.c.local_day == day.local_day
        found += _compare(grain.table.name, stored(connection, grain, where), folded)
    stored_pairs = {
        (r.local_day, r.station_id, r.packer_id, r.expected_id, r.scanned_id): r.n
        for r in connection.execute(
            sa.select(*CONFUSIONS.c, CONFUSIONS.c["count"].label("n")).where(
                CONFUSIONS.c.local_day == day.local_day
            )
        )
    }
    if stored_pairs != dict(day.confusions):
        recounted = dict(day.confusions)
        found.append(f"{day.local_day}: confusions stored {stored_pairs}, recounted {recounted}")
    return found


def _month_differences(session: Session, month: date, folded: dict[GrainKey, Counts]) -> list[str]:
    where = SKU_MONTH.c.month == month
    return _compare("stat_sku_month", stored(session.connection(), BY_SKU_MONTH, where), folded)


def differences(
    session: Session, zone: ZoneInfo, *, most: int = 20, batch: int = 2000
) -> list[str]:
    """Where the stored rollups (every grain) differ from a recount; empty when they match."""
    found: list[str] = []
    days: set[date] = set()
    months: set[date] = set()
    month: dict[GrainKey, Counts] = {}
    total: dict[GrainKey, Counts] = {}
    current: date | None = None
    for day in recount(session, zone, batch=batch):
        if current is not None and month_of(day.local_day) != current:
            found += _month_differences(session, current, month)
            month = {}
        current = month_of(day.local_day)
        days.add(day.local_day)
        months.add(current)
        found += _day_differences(session, day)
        fold(BY_SKU_MONTH, day.cells, month)
        fold(BY_SKU_TOTAL, day.cells, total)
        if len(found) >= most:
            return found[:most]
    if current is not None:
        found += _month_differences(session, current, month)
    connection = session.connection()
    found += _compare("stat_sku_total", stored(connection, BY_SKU_TOTAL, sa.true()), total)
    kept = [(CELLS, "local_day", days), (DAY, "local_day", days),
            (SKU_DAY, "local_day", days), (SKU_MONTH, "month", months)]  # fmt: skip
    for table, column, seen in kept:
        extra = connection.execute(sa.select(table.c[column]).distinct()).scalars()
        for when in sorted(set(extra) - seen):
            found.append(f"{table.name} {when}: stored cells for a time with no closed parcel")
    return found[:most]
