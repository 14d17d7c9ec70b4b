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
from sqlmodel import Session, col, delete, select

from qc.models import Defect, Override, Parcel, ParcelLine, StatCell, StatConfusion
from qc.rollup_cells import MEASURES, Counts, cells
from qc.rollups import CELLS, CONFUSIONS, parcel_facts, place_of, wrong_items

CellRow = tuple[Any, ...]  # (local_day, hour, station_id, packer_id, sku_id, kind, stage)
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
    """Replace the rollups with a recount (in the caller's transaction); (days, cells) written."""
    session.exec(delete(StatCell))
    session.exec(delete(StatConfusion))
    days = written = 0
    connection = session.connection()
    for day in recount(session, zone, batch=batch):
        rows = [_cell_row(key, counts) for key, counts in day.cells.items()]
        for start in range(0, len(rows), 5000):
            connection.execute(CELLS.insert(), rows[start : start + 5000])
        pairs = [_confusion_row(key, n) for key, n in day.confusions.items()]
        if pairs:
            connection.execute(CONFUSIONS.insert(), pairs)
        days, written = days + 1, written + len(rows)
    return days, written


def _cell_row(key: CellRow, counts: Counts) -> dict[str, Any]:
    local_day, hour, station_id, packer_id, sku_id, kind, stage = key
    return {"local_day": local_day, "hour": hour, "station_id": station_id,
            "packer_id": packer_id, "sku_id": sku_id, "kind": kind, "stage": stage,
            **{m: counts.get(m, 0) for m in MEASURES}}  # fmt: skip


def _confusion_row(key: ConfusionRow, n: int) -> dict[str, Any]:
    local_day, station_id, packer_id, expected_id, scanned_id = key
    return {"local_day": local_day, "station_id": station_id, "packer_id": packer_id,
            "expected_id": expected_id, "scanned_id": scanned_id, "count": n}  # fmt: skip


def _stored_cells(session: Session, local_day: date | None = None) -> dict[CellRow, Counts]:
    query = select(StatCell)
    if local_day is not None:
        query = query.where(StatCell.local_day == local_day)
    out = {}
    for c in session.exec(query):
        key = (c.local_day, c.hour, c.station_id, c.packer_id, c.sku_id, c.kind, c.stage)
        out[key] = {m: getattr(c, m) for m in MEASURES if getattr(c, m)}
    return out


def differences(
    session: Session, zone: ZoneInfo, *, most: int = 20, batch: int = 2000
) -> list[str]:
    """Where the stored rollups differ from a recount; empty when they match exactly."""
    found: list[str] = []
    seen: set[date] = set()
    for day in recount(session, zone, batch=batch):
        seen.add(day.local_day)
        stored = _stored_cells(session, day.local_day)
        for key in sorted(stored.keys() | day.cells.keys(), key=str):
            if stored.get(key, {}) != day.cells.get(key, {}):
                found.append(
                    f"{key}: stored {stored.get(key, {})}, recounted {day.cells.get(key, {})}"
                )
        stored_pairs = {
            (r.local_day, r.station_id, r.packer_id, r.expected_id, r.scanned_id): r.count
            for r in session.exec(
                select(StatConfusion).where(StatConfusion.local_day == day.local_day)
            )
        }
        if stored_pairs != dict(day.confusions):
            recounted = dict(day.confusions)
            found.append(
                f"{day.local_day}: confusions stored {stored_pairs}, recounted {recounted}"
            )
        if len(found) >= most:
            return found[:most]
    extra = session.exec(select(col(StatCell.local_day)).distinct()).all()
    for local_day in sorted(set(extra) - seen):
        found.append(f"{local_day}: stored cells for a day with no closed parcel")
    return found[:most]
