"""Sums read from the coarse grains (stat_day, stat_sku_day, stat_sku_month, stat_sku_total,
split at month edges) equal the same sums taken straight from the hourly cells, for any cells
and question."""

from collections import defaultdict
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from qc.rollup_cells import ALL_SKUS, MEASURES, NO_SKU
from qc.rollup_grains import SKU_DAY, SKU_MONTH, SKU_TOTAL
from qc.rollups import CELLS, Place, add_cells
from qc.stats_query import (
    EACH_KIND,
    EACH_PACKED,
    EACH_SKU,
    EACH_STAGE,
    Ask,
    Sums,
    _by_months,
    sums,
)

FIRST = date(2026, 1, 27)  # cells over fourteen months, two Februaries' ends included: long
DAYS = 400  # enough for periods that read the SKU totals less the months outside
KINDS = ["", "wrong_item", "missing_item"]
STAGES = ["", "caught", "escaped"]

counts = st.fixed_dictionaries({m: st.integers(0, 5) for m in MEASURES})
cell = st.tuples(st.sampled_from([ALL_SKUS, 1, 2, NO_SKU]), st.sampled_from(KINDS),
                 st.sampled_from(STAGES))  # fmt: skip
placed = st.tuples(st.integers(0, DAYS - 1), st.integers(0, 23), st.sampled_from([1, 2]),
                   st.sampled_from([7, 8]), st.dictionaries(cell, counts, max_size=4))  # fmt: skip
question = st.fixed_dictionaries({
    # any period, or one over most of the history (read as the totals less the rest)
    "start": st.one_of(st.integers(0, DAYS - 1), st.integers(0, 40)),
    "length": st.one_of(st.integers(1, DAYS), st.integers(DAYS - 80, DAYS)),
    "sku": st.sampled_from([ALL_SKUS, 1, NO_SKU, EACH_SKU, EACH_PACKED]),
    "kind": st.sampled_from(["", "wrong_item", EACH_KIND]),
    "stage": st.sampled_from([*STAGES, EACH_STAGE]),
    "station": st.sampled_from([None, 1]), "packer": st.sampled_from([None, 8]),
    "key": st.sampled_from([None, "day", "station", "packer", "sku", "kind"]),
})  # fmt: skip


def _matches(row: Any, ask: Ask) -> bool:
    stage_ok = row.stage != "" if ask.stage == EACH_STAGE else row.stage == ask.stage
    if not ask.start <= row.local_day <= ask.end or not stage_ok:
        return False
    if (ask.kind == EACH_KIND and row.kind == "") or (
        ask.kind != EACH_KIND and row.kind != ask.kind
    ):
        return False
    if ask.sku == EACH_SKU:
        sku_ok = row.sku_id != ALL_SKUS
    elif ask.sku == EACH_PACKED:
        sku_ok = row.sku_id > ALL_SKUS
    else:
        sku_ok = row.sku_id == ask.sku
    station_ok = ask.station is None or row.station_id == ask.station
    return sku_ok and station_ok and (ask.packer is None or row.packer_id == ask.packer)


def _from_hours(session: Session, ask: Ask, key: str | None) -> dict[Any, Sums]:
    column = {"day": "local_day", "station": "station_id", "packer": "packer_id",
              "sku": "sku_id", "kind": "kind"}  # fmt: skip
    out: dict[Any, Sums] = defaultdict(Sums)
    for row in session.connection().execute(CELLS.select()):
        if _matches(row, ask):
            acc = out[getattr(row, column[key]) if key else None]
            for f in fields(Sums):
                setattr(acc, f.name, getattr(acc, f.name) + getattr(row, f.name))
    return {k: v for k, v in out.items() if v != Sums() or k is None}


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(placed, min_size=1, max_size=12), st.lists(question, min_size=1, max_size=6))
def test_grains_answer_as_the_hourly_cells_do(
    session: Session, cells_placed: list[tuple], questions: list[dict]
) -> None:
    ends = [(0, 9, 1, 7, {(1, "", ""): {"parcels": 1, "units": 2}}),
            (DAYS - 1, 9, 2, 8, {(2, "", ""): {"parcels": 1, "units": 1}})]  # fmt: skip
    for day, hour, station, packer, increments in ends + cells_placed:  # units at both ends
        local_day = FIRST + timedelta(days=day)
        at = datetime(local_day.year, local_day.month, local_day.day, hour, tzinfo=UTC)
        add_cells(session, Place(local_day, at, station, packer), increments)
    for q in questions:
        start = FIRST + timedelta(days=q["start"])
        ask = Ask(start, start + timedelta(days=q["length"] - 1), sku=q["sku"], kind=q["kind"],
                  stage=q["stage"], station=q["station"], packer=q["packer"])  # fmt: skip
        key = q["key"]
        if key == "sku" and ask.sku == ALL_SKUS:
            key = None  # every SKU together has no SKU to group by
        got = {k: v for k, v in sums(session.connection(), ask, key).items() if v != Sums()}
        want = {k: v for k, v in _from_hours(session, ask, key).items() if v != Sums()}
        assert got == want, (ask, key)


def test_a_period_of_whole_months_reads_the_month_rollup(session: Session) -> None:
    """Two whole months and two edge days: months from stat_sku_month, edges by day."""
    for day in (date(2026, 1, 31), date(2026, 2, 1), date(2026, 3, 31), date(2026, 4, 1),
                date(2026, 1, 1)):  # fmt: skip
        at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        add_cells(session, Place(day, at, 1, 7), {(1, "", ""): {"parcels": 1, "units": 2}})
    at = datetime(2026, 1, 1, 10, tzinfo=UTC)
    add_cells(session, Place(date(2026, 1, 1), at, 1, 7), {(2, "", ""): {"parcels": 1}})
    ask = Ask(date(2026, 1, 31), date(2026, 4, 1), sku=EACH_PACKED, kind="", stage="")
    assert sums(session.connection(), ask, "sku") == {1: Sums(parcels=4, units=8)}
    inside = Ask(date(2026, 2, 1), date(2026, 3, 31), sku=1, kind="", stage="")
    assert sums(session.connection(), inside) == {None: Sums(parcels=2, units=4)}
    # Most of January and March: each month less the days outside; a SKU whose cells fall
    # only outside the period is left out, not shown with nothing.
    most = Ask(date(2026, 1, 2), date(2026, 3, 30), sku=EACH_PACKED, kind="", stage="")
    assert sums(session.connection(), most, "sku") == {1: Sums(parcels=2, units=4)}


def _plan(start: date, end: date, history: tuple[date, date] | None) -> list[tuple]:
    return [(t.name, first, last, sign) for t, first, last, sign in
            _by_months(start, end, lambda: history)]  # fmt: skip


def test_a_period_over_most_of_the_history_reads_the_total_less_the_rest() -> None:
    history = (date(2024, 11, 1), date(2026, 11, 1))  # 25 months with cells
    # The last 730 days up to 27 November 2026: the total less the months and days outside.
    assert _plan(date(2024, 11, 28), date(2026, 11, 27), history) == [
        (SKU_TOTAL.name, None, None, 1),
        (SKU_MONTH.name, None, date(2024, 10, 31), -1),
        (SKU_MONTH.name, date(2026, 12, 1), None, -1),
        # 27 of November 2024's days are outside: the month less the three inside
        (SKU_MONTH.name, date(2024, 11, 1), date(2024, 11, 1), -1),
        (SKU_DAY.name, date(2024, 11, 28), date(2024, 11, 30), 1),
        (SKU_DAY.name, date(2026, 11, 28), date(2026, 11, 30), -1),
    ]
    # A year of the two: its months, not the total (12 inside, 12 outside).
    assert _plan(date(2025, 11, 1), date(2026, 10, 31), history) == [
        (SKU_MONTH.name, date(2025, 11, 1), date(2026, 10, 31), 1)
    ]
    # No history known (no cells of every kind): the months inside.
    assert _plan(date(2025, 1, 1), date(2025, 12, 31), None) == [
        (SKU_MONTH.name, date(2025, 1, 1), date(2025, 12, 31), 1)
    ]


def test_a_short_period_does_not_ask_for_the_history() -> None:
    def history() -> tuple[date, date]:
        raise AssertionError("asked for the history")

    plan = list(_by_months(date(2026, 10, 31), date(2026, 11, 27), history))
    assert [(t.name, sign) for t, _, _, sign in plan] == [
        (SKU_DAY.name, 1),
        (SKU_MONTH.name, 1),
        (SKU_DAY.name, -1),
    ]
