"""Defect statistics read from the rollups (qc.rollups), as DESIGN.md defines them.

- parcel defect rate = parcels with a defect of the stage / parcels closed
- SKU defect rate = defects (units) on the SKU / units of the SKU packed
- first-pass yield = parcels passed at closing with no caught defect / parcels closed
- escaped rate = parcels with a complaint-born defect / parcels shipped

Every figure counts parcels by the local day they closed. Each row carries p-chart limits,
p̄ ± 3·√(p̄(1-p̄)/n), with p̄ the rate over all rows and n the row's own parcels (units for
SKUs), so a manager sees which group is out of control rather than merely the worst.
"""

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, select

from qc.errors import NotFound
from qc.models import Product, Station, User
from qc.rollup_cells import ALL_SKUS, NO_SKU
from qc.rollups import CONFUSIONS
from qc.stats_query import (
    EACH_KIND,
    EACH_PACKED,
    EACH_SKU,
    EACH_STAGE,
    Ask,
    Key,
    sums,
    total,
)
from qc.stats_schemas import (
    Confusions,
    DefectRate,
    Dimension,
    Filters,
    GroupBy,
    PackerRow,
    Packers,
    Pareto,
    Period,
    StageFilter,
    Summary,
    Totals,
)


def _stage(stage: StageFilter) -> str:
    return "" if stage == "all" else stage


class _Ids:
    """Filters as ids, and ids back as what people call them."""

    def __init__(self, session: Session, filters: Filters) -> None:
        self.session = session
        self.station = self._id(Station, Station.code, filters.station, "station")
        self.packer = self._id(User, User.name, filters.packer, "packer")
        self.sku = self._id(Product, Product.sku, filters.sku, "SKU")
        self.kind = filters.kind

    def _id(self, model: Any, column: Any, value: str | None, what: str) -> int | None:
        if value is None:
            return None
        found = self.session.exec(select(model.id).where(column == value)).first()
        if found is None:
            raise NotFound(f"no {what} {value!r}", code=f"unknown_{what.lower()}")
        return int(found)

    def _among(self, column: Any, ids: list[int]) -> Any:
        """`column IN ids` with one bound parameter, not one per id (a view by SKU names
        thousands): an array on PostgreSQL, a JSON list read by json_each on SQLite."""
        if self.session.get_bind().dialect.name == "postgresql":
            return column == sa.any_(sa.literal(ids, postgresql.ARRAY(sa.Integer)))
        listed = sa.func.json_each(sa.literal(json.dumps(ids))).table_valued("value")
        return column.in_(sa.select(listed.c.value))

    def names(self, group_by: str, ids: Iterable[Any]) -> dict[Any, str]:
        wanted = [i for i in ids if isinstance(i, int) and i > 0]
        names: dict[Any, str] = {NO_SKU: "(no SKU)"}
        found: dict[str, Any] = {"station": Station, "packer": User, "sku": Product}
        model = found.get(group_by)
        if model is not None and wanted:
            name = {"station": "code", "packer": "name", "sku": "sku"}[group_by]
            query = sa.select(model.id, getattr(model, name)).where(self._among(model.id, wanted))
            names.update({i: str(n) for i, n in self.session.connection().execute(query)})
        return names


def _reader(session: Session, filters: Filters) -> _Ids:
    """Set up a statistics read: the filters as ids, and on PostgreSQL plans without parallel
    workers. Every query here reads at most some tens of thousands of rollup rows, for which
    starting workers costs more than it saves (measured on two cores, two years of defect rate
    by SKU at a million parcels: 102 to 126 ms serial, 135 to 151 ms parallel)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    return _Ids(session, filters)


def _ask(period: Period, ids: _Ids, *, sku: int | str, kind: str, stage: str) -> Ask:
    return Ask(period.start, period.end, sku=sku, kind=kind, stage=stage, station=ids.station,
               packer=ids.packer)  # fmt: skip


def _limits(
    rate: float | None, center: float | None, n: int
) -> tuple[float | None, float | None, bool]:
    if center is None or n <= 0:
        return None, None, False
    sigma = math.sqrt(center * (1 - center) / n)
    lower, upper = max(0.0, center - 3 * sigma), min(1.0, center + 3 * sigma)
    out = rate is not None and (rate > upper + 1e-12 or rate < lower - 1e-12)
    return round(lower, 6), round(upper, 6), out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 6) if b else None


def defect_rate(
    *, session: Session, period: Period, group_by: GroupBy, stage: StageFilter, filters: Filters
) -> DefectRate:
    """Defect rate per group, with p-chart limits.

    Raises:
        NotFound: a filter names a station, packer or SKU that does not exist.
    """
    ids = _reader(session, filters)
    connection = session.connection()
    one = ids.sku if ids.sku is not None else ALL_SKUS
    sku: int | str = one
    kind = ids.kind or ""
    key: Key = "day" if group_by == "week" else group_by
    base: Any
    if group_by == "sku":
        sku = EACH_SKU if ids.sku is None else one
        packed = EACH_PACKED if ids.sku is None else one
        base = sums(connection, _ask(period, ids, sku=packed, kind="", stage=""), key)
    elif group_by == "kind":  # a kind is not a property of parcels: each is out of them all
        everything = total(connection, _ask(period, ids, sku=one, kind="", stage=""))
        base = defaultdict(lambda: everything)
        kind = EACH_KIND if ids.kind is None else kind
    else:
        base = sums(connection, _ask(period, ids, sku=one, kind="", stage=""), key)
    hits = sums(connection, _ask(period, ids, sku=sku, kind=kind, stage=_stage(stage)), key)
    keys = _keys(group_by, period, set(hits) | (set(base) if group_by != "kind" else set()))
    names = ids.names(group_by, keys)
    rows = []
    for k in keys:
        b, h = base[k] if group_by == "kind" else base.get(k), hits.get(k)
        parcels, units = (b.parcels, b.units) if b else (0, 0)
        defective, defects = (h.defective, h.defects) if h else (0, 0)
        rows.append([_label(group_by, k, names), parcels, defective, defects, units])
    if group_by == "week":
        rows = _weeks(rows)
    elif group_by != "day":
        rows.sort(key=lambda r: str(r[0]))
    per_units = group_by == "sku"
    num = sum(r[3] if per_units else r[2] for r in rows)
    den = sum(r[4] if per_units else r[1] for r in rows)
    center = _ratio(num, den)
    out = []
    for label, parcels, defective, defects, units in rows:
        n = units if per_units else parcels
        rate = _ratio(defects if per_units else defective, n)
        lower, upper, flag = _limits(rate, center, n)
        label = label if isinstance(label, str) else label.isoformat()
        out.append({"key": label, "parcels": parcels, "defective_parcels": defective,
                    "defects": defects, "units": units, "rate": rate, "center": center,
                    "lower": lower, "upper": upper, "out_of_control": flag})  # fmt: skip
    # Validated in one call from plain dicts: thousands of rows by SKU, in pydantic-core.
    body = {"start": period.start, "end": period.end, "group_by": group_by, "stage": stage}
    return DefectRate.model_validate({**body, "rows": out})


def _keys(group_by: str, period: Period, found: set[Any]) -> list[Any]:
    if group_by in ("day", "week"):  # every day of the period, empty ones too
        return [period.start + timedelta(days=i) for i in range(period.days)]
    return sorted(found, key=lambda k: (str(type(k)), k))


def _label(group_by: str, key: Any, names: dict[Any, str]) -> Any:
    if group_by in ("day", "week"):
        return key
    if group_by == "kind":
        return str(key)
    return names.get(key, str(key))


def _weeks(rows: list[list[Any]]) -> list[list[Any]]:
    """Days folded into ISO weeks (Monday first), labelled like 2026-W47."""
    weeks: dict[str, list[Any]] = {}
    for day, *counts in rows:
        year, week, _ = day.isocalendar()
        label = f"{year}-W{week:02d}"
        acc = weeks.setdefault(label, [label, 0, 0, 0, 0])
        for i, value in enumerate(counts, start=1):
            acc[i] += value
    return list(weeks.values())


def _totals(session: Session, period: Period, ids: _Ids) -> Totals:
    connection = session.connection()
    sku = ids.sku if ids.sku is not None else ALL_SKUS
    base = total(connection, _ask(period, ids, sku=sku, kind="", stage=""))
    kind = ids.kind or ""  # a kind narrows the defects; parcels stay all those closed
    caught = total(connection, _ask(period, ids, sku=sku, kind=kind, stage="caught"))
    escaped = total(connection, _ask(period, ids, sku=sku, kind=kind, stage="escaped"))
    return Totals(
        parcels_closed=base.parcels,
        parcels_shipped=base.shipped,
        first_pass_yield=_ratio(base.first_pass, base.parcels),
        caught_rate=_ratio(caught.defective, base.parcels),
        escaped_rate=_ratio(escaped.defective, base.shipped),
        caught_share=_ratio(caught.defects, caught.defects + escaped.defects),
        defects_caught=caught.defects,
        defects_escaped=escaped.defects,
    )


def summary(*, session: Session, period: Period, filters: Filters) -> Summary:
    """The period's headline figures beside those of the period of equal length before it."""
    ids = _reader(session, filters)
    before = Period(start=period.start - timedelta(days=period.days),
                    end=period.start - timedelta(days=1))  # fmt: skip
    return Summary(start=period.start, end=period.end, previous_start=before.start,
                   previous_end=before.end, current=_totals(session, period, ids),
                   previous=_totals(session, before, ids))  # fmt: skip


def pareto(
    *, session: Session, period: Period, dimension: Dimension, stage: StageFilter, filters: Filters
) -> Pareto:
    """Defects by SKU, kind, station or packer, most first, with the cumulative share."""
    ids = _reader(session, filters)
    sku: int | str = ids.sku if ids.sku is not None else ALL_SKUS
    kind = ids.kind or ""
    if dimension == "sku" and ids.sku is None:
        sku = EACH_SKU
    if dimension == "kind" and ids.kind is None:
        kind = EACH_KIND
    # Defects add up across stages, so "all" reads the cells of each stage: only cells with
    # a defect, not every cell of packed units that the either-stage cells also are.
    ask = _ask(period, ids, sku=sku, kind=kind, stage=EACH_STAGE if stage == "all" else stage)
    found = sums(session.connection(), ask, dimension)
    names = ids.names(dimension, found)
    counted = sorted(((_label(dimension, k, names), r.defects) for k, r in found.items()),
                     key=lambda kv: (-kv[1], kv[0]))  # fmt: skip
    counted = [(k, n) for k, n in counted if n]
    total, running, rows = sum(n for _, n in counted), 0, []
    for key, n in counted:
        running += n
        rows.append({"key": key, "defects": n, "share": round(n / total, 6),
                     "cumulative_share": round(running / total, 6)})  # fmt: skip
    return Pareto.model_validate({"dimension": dimension, "stage": stage, "rows": rows})


def confusions(
    *, session: Session, period: Period, filters: Filters, limit: int = 100
) -> Confusions:
    """Wrong items: (SKU expected, SKU scanned instead), most frequent first, the first
    `limit` of `pairs` pairs (ties at the cut are taken in id order)."""
    ids = _reader(session, filters)
    c = CONFUSIONS.c
    query = (
        sa.select(c.expected_id, c.scanned_id, sa.func.sum(c.count).label("n"))
        .where(c.local_day.between(period.start, period.end))
        .group_by(c.expected_id, c.scanned_id)
    )
    if ids.station is not None:
        query = query.where(c.station_id == ids.station)
    if ids.packer is not None:
        query = query.where(c.packer_id == ids.packer)
    found = [tuple(r) for r in session.connection().execute(query)]
    found.sort(key=lambda r: (-r[2], r[0], r[1]))
    top = found[:limit]
    names = ids.names("sku", {r[0] for r in top} | {r[1] for r in top})
    named = sorted((-int(n), names[e], names[s]) for e, s, n in top)
    rows = [{"expected_sku": e, "scanned_sku": s, "count": -n} for n, e, s in named]
    return Confusions.model_validate({"pairs": len(found), "rows": rows})


def packers(*, session: Session, period: Period, filters: Filters) -> Packers:
    """Per packer: pace and quality. For coaching: who needs help, and who can teach."""
    ids = _reader(session, filters)
    connection = session.connection()
    base = sums(connection, _ask(period, ids, sku=ALL_SKUS, kind="", stage=""), "packer")
    # Parcels with a defect of either stage: in the same cells, unless a kind narrows them.
    hits = base
    if ids.kind:
        ask = _ask(period, ids, sku=ALL_SKUS, kind=ids.kind, stage="")
        hits = sums(connection, ask, "packer")
    names = ids.names("packer", base)
    rows = []
    for packer_id, b in base.items():
        parcels, units, seconds = b.parcels, b.units, b.packing_s
        hours = seconds / 3600
        rows.append(PackerRow(
            packer=names.get(packer_id, str(packer_id)), parcels=parcels, units=units,
            hours=round(hours, 3),
            parcels_per_hour=round(parcels / hours, 2) if hours else None,
            units_per_hour=round(units / hours, 2) if hours else None,
            first_pass_yield=_ratio(b.first_pass, parcels),
            defect_rate=_ratio(hits[packer_id].defective if packer_id in hits else 0, parcels),
        ))  # fmt: skip
    rows.sort(key=lambda r: r.packer)
    return Packers(rows=rows)


def days_back(today: date, days: int = 28) -> Period:
    """The default period: the last `days` local days, today included."""
    return Period(start=today - timedelta(days=days - 1), end=today)
