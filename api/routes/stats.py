"""Defect statistics for managers: JSON, or CSV with `?format=csv` or `Accept: text/csv`."""

import csv
import io
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from api.deps import ManagerDep, SessionDep, warehouse_zone
from api.errors import ERROR_RESPONSES
from qc import stats
from qc.enums import DefectKind
from qc.errors import InvalidInput
from qc.stats_schemas import (
    Confusions,
    DefectRate,
    Dimension,
    Filters,
    GroupBy,
    Packers,
    Pareto,
    Period,
    StageFilter,
    Summary,
)

router = APIRouter(prefix="/stats", tags=["statistics"], responses=ERROR_RESPONSES)
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "The rows, as CSV when asked"}
}
Format = Annotated[Literal["json", "csv"] | None, Query(description="Or `Accept: text/csv`.")]
Name = Annotated[str | None, Query(min_length=1, max_length=100)]


def period(
    start: Annotated[date | None, Query(alias="from", description="First local day.")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last local day.")] = None,
) -> Period:
    """The period asked for; by default the 28 local days up to today."""
    today = datetime.now(warehouse_zone()).date()
    end = end or today
    try:
        return Period(start=start or stats.days_back(end).start, end=end)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InvalidInput(f"the period is not valid: {reason}", code="invalid_period") from None


def filters(
    station: Name = None, packer: Name = None, sku: Name = None, kind: DefectKind | None = None
) -> Filters:
    return Filters(station=station, packer=packer, sku=sku, kind=kind)


PeriodDep = Annotated[Period, Depends(period)]
FiltersDep = Annotated[Filters, Depends(filters)]


def _answer(
    request: Request,
    body: BaseModel,
    fmt: str | None,
    rows: Callable[[], list[dict[str, Any]]],
) -> Response:
    """JSON serialised by pydantic-core in one pass; CSV of `rows()`, made only when asked."""
    wants_csv = fmt == "csv" or (fmt is None and "text/csv" in request.headers.get("accept", ""))
    if not wants_csv:
        return Response(body.model_dump_json(by_alias=True), media_type="application/json")
    out = io.StringIO()
    table = rows()
    if table:
        writer = csv.DictWriter(out, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    name = request.url.path.rsplit("/", 1)[-1]
    disposition = f'attachment; filename="{name}.csv"'
    headers = {"Content-Disposition": disposition}
    return Response(out.getvalue(), media_type="text/csv", headers=headers)


def _dump(rows: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [r.model_dump() for r in rows]


@router.get("/defect-rate", response_model=DefectRate, responses=CSV)
def defect_rate(
    request: Request,
    session: SessionDep,
    _: ManagerDep,
    when: PeriodDep,
    narrow: FiltersDep,
    group_by: GroupBy = "day",
    stage: StageFilter = "caught",
    format: Format = None,
) -> Response:
    """Parcel defect rate per day, week, station, packer or kind (SKU: defects per unit
    packed), with p-chart control limits and which groups are out of control."""
    body = stats.defect_rate(session=session, period=when, group_by=group_by, stage=stage,
                             filters=narrow)  # fmt: skip
    return _answer(request, body, format, lambda: _dump(body.rows))


@router.get("/summary", response_model=Summary, responses=CSV)
def summary(
    request: Request,
    session: SessionDep,
    _: ManagerDep,
    when: PeriodDep,
    narrow: FiltersDep,
    format: Format = None,
) -> Response:
    """Parcels closed, first-pass yield, caught and escaped rates and the share of defects
    caught before shipping, beside the period of the same length before."""
    body = stats.summary(session=session, period=when, filters=narrow)

    def rows() -> list[dict[str, Any]]:
        return [
            {"period": "current", "from": body.start, "to": body.end,
             **body.current.model_dump()},
            {"period": "previous", "from": body.previous_start, "to": body.previous_end,
             **body.previous.model_dump()},
        ]  # fmt: skip

    return _answer(request, body, format, rows)


@router.get("/pareto", response_model=Pareto, responses=CSV)
def pareto(
    request: Request,
    session: SessionDep,
    _: ManagerDep,
    when: PeriodDep,
    narrow: FiltersDep,
    dimension: Dimension = "sku",
    stage: StageFilter = "all",
    format: Format = None,
) -> Response:
    """The few SKUs, kinds, stations or packers behind most defects, with cumulative share."""
    body = stats.pareto(session=session, period=when, dimension=dimension, stage=stage,
                        filters=narrow)  # fmt: skip
    return _answer(request, body, format, lambda: _dump(body.rows))


@router.get("/confusions", response_model=Confusions, responses=CSV)
def confusions(
    request: Request,
    session: SessionDep,
    _: ManagerDep,
    when: PeriodDep,
    narrow: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="The most frequent pairs.")] = 100,
    format: Format = None,
) -> Response:
    """Wrong items as (expected SKU, SKU scanned instead): look-alikes to keep apart, the most
    frequent first; `pairs` says how many there are in all."""
    body = stats.confusions(session=session, period=when, filters=narrow, limit=limit)
    return _answer(request, body, format, lambda: _dump(body.rows))


@router.get("/packers", response_model=Packers, responses=CSV)
def packers(
    request: Request,
    session: SessionDep,
    _: ManagerDep,
    when: PeriodDep,
    narrow: FiltersDep,
    format: Format = None,
) -> Response:
    """Per packer: parcels and units per hour of packing, first-pass yield, defect rate.
    For coaching, not for punishment."""
    body = stats.packers(session=session, period=when, filters=narrow)
    return _answer(request, body, format, lambda: _dump(body.rows))
