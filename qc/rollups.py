"""The statistics rollups, kept in step with the events they count, and rebuilt from raw rows.

Every change to a closed parcel that the statistics see (its closing, its shipment, a
complaint's escaped defects) runs inside `counted(...)`: the parcel's cells are worked out
before and after the change, in the change's own transaction, and the difference is added
to the rollup with an upsert. So the rollup is never stale (it commits with the event) and
never counts twice (a retried request is refused or replayed before it changes anything, and
a parcel's contribution is a function of its rows, not of how many times it was touched).

Figures are attributed to the local day and UTC hour the parcel was closed, its bench and its
packer: a complaint in March about a parcel packed in January counts against January, the
packing it is about. `rebuild` recomputes everything from the raw rows, a day at a time.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from qc.enums import DefectKind, ParcelStatus, Stage
from qc.models import Defect, Override, Parcel, ParcelLine, StatCell, StatConfusion
from qc.rollup_cells import (
    MEASURES,
    CellKey,
    Counts,
    DefectFact,
    ParcelFacts,
    cells,
    confusions,
    delta,
)
from qc.rollup_grains import GRAINS, CellRow, GrainKey, fold
from qc.rollup_grains import rows as grain_rows

CELLS: sa.Table = StatCell.__table__  # type: ignore[attr-defined]
CONFUSIONS: sa.Table = StatConfusion.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Place:
    """Where a closed parcel's figures go: its close day and hour, bench and packer."""

    local_day: date
    hour: datetime
    station_id: int
    packer_id: int


@dataclass(frozen=True)
class Counted:
    place: Place
    cells: dict[CellKey, Counts]
    confusions: dict[tuple[int, int], int]


def place_of(parcel: Any, zone: ZoneInfo) -> Place:
    closed: datetime = parcel.closed_at
    hour = closed.replace(minute=0, second=0, microsecond=0)
    return Place(closed.astimezone(zone).date(), hour, parcel.station_id, parcel.packer_id)


def parcel_facts(
    parcel: Any, lines: list[Any], defects: list[Any], overridden: bool
) -> ParcelFacts:
    """A closed parcel's facts from its rows: first pass means passed at closing (no override)
    with no caught defect, refused scans included."""
    caught = [d for d in defects if d.stage == Stage.CAUGHT]
    passed = parcel.status in (ParcelStatus.PASSED, ParcelStatus.SHIPPED) and not overridden
    return ParcelFacts(
        units={ln.product_id: ln.accepted - ln.damaged for ln in lines if ln.accepted > ln.damaged},
        first_pass=passed and not caught,
        packing_s=max(int((parcel.closed_at - parcel.opened_at).total_seconds()), 0),
        shipped=parcel.shipped_at is not None,
        defects=tuple(DefectFact(d.product_id, d.kind, d.stage, d.qty) for d in defects),
    )


def wrong_items(defects: list[Any]) -> dict[tuple[int, int], int]:
    return confusions(
        (d.expected_product_id, d.product_id)
        for d in defects
        if d.kind == DefectKind.WRONG_ITEM and d.stage == Stage.CAUGHT
    )


def count_parcel(session: Session, parcel_id: int, zone: ZoneInfo) -> Counted | None:
    """The parcel's cells as its rows stand now; None while it is not closed."""
    parcel = session.get(Parcel, parcel_id, populate_existing=True)
    if parcel is None or parcel.closed_at is None:
        return None
    lines = list(session.exec(select(ParcelLine).where(ParcelLine.parcel_id == parcel_id)))
    defects = list(session.exec(select(Defect).where(Defect.parcel_id == parcel_id)))
    overridden = session.exec(select(Override.id).where(Override.parcel_id == parcel_id)).first()
    facts = parcel_facts(parcel, lines, defects, overridden is not None)
    return Counted(place_of(parcel, zone), cells(facts), wrong_items(defects))


@contextmanager
def counted(session: Session, parcel_id: int, zone: ZoneInfo) -> Iterator[None]:
    """Run a change to a parcel and add what it changes in the statistics, in one transaction."""
    session.flush()
    before = count_parcel(session, parcel_id, zone)
    yield
    session.flush()
    after = count_parcel(session, parcel_id, zone)
    if after is None:
        return
    old = before.cells if before else {}
    old_confusions = before.confusions if before else {}
    add_cells(session, after.place, delta(after.cells, old))
    changed = {k: v - old_confusions.get(k, 0) for k, v in after.confusions.items()}
    add_confusions(session, after.place, {k: v for k, v in changed.items() if v})


def _upsert(
    session: Session, table: Any, keys: list[str], columns: list[str], rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={c: getattr(table.c, c) + getattr(statement.excluded, c) for c in columns},
    )
    session.connection().execute(statement, rows)


def add_cells(session: Session, place: Place, increments: dict[CellKey, Counts]) -> None:
    """Add a parcel's increments to stat_cell and to the coarser grains folded from it."""
    hourly = {
        (place.local_day, place.hour, place.station_id, place.packer_id, sku, kind, stage): counts
        for (sku, kind, stage), counts in increments.items()
    }
    rows = [cell_row(key, counts) for key, counts in sorted(hourly.items())]
    keys = ["local_day", "hour", "station_id", "packer_id", "sku_id", "kind", "stage"]
    _upsert(session, CELLS, keys, list(MEASURES), rows)
    for grain in GRAINS:
        folded: dict[GrainKey, Counts] = {}
        fold(grain, hourly, folded)
        rows = grain_rows(grain, folded)
        _upsert(session, grain.table, list(grain.columns), list(MEASURES), rows)


def cell_row(key: CellRow, counts: Counts) -> dict[str, Any]:
    local_day, hour, station_id, packer_id, sku_id, kind, stage = key
    return {"local_day": local_day, "hour": hour, "station_id": station_id,
            "packer_id": packer_id, "sku_id": sku_id, "kind": kind, "stage": stage,
            **{m: counts.get(m, 0) for m in MEASURES}}  # fmt: skip


def add_confusions(session: Session, place: Place, pairs: dict[tuple[int, int], int]) -> None:
    rows = [
        {"local_day": place.local_day, "station_id": place.station_id,
         "packer_id": place.packer_id, "expected_id": e, "scanned_id": s, "count": n}
        for (e, s), n in sorted(pairs.items())
    ]  # fmt: skip
    keys = ["local_day", "station_id", "packer_id", "expected_id", "scanned_id"]
    _upsert(session, CONFUSIONS, keys, ["count"], rows)
