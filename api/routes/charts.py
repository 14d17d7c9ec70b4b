"""Charts of the statistics as SVG, drawn on the server from the same figures as the JSON.

Each chart takes its JSON endpoint's own parameters (`api.routes.stats`), reads the rows
through one small adapter to `qc.stats` (the same queries) and hands them to `api.charts`,
which escapes every label: a page may insert the SVG as markup. The SVG is also served with
a CSP that forbids scripts, for whoever opens it directly.
"""

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from sqlmodel import Session

from api import charts
from api.deps import ManagerDep, SessionDep
from api.errors import ERROR_RESPONSES
from api.routes.stats import FiltersDep, PeriodDep
from qc import stats
from qc.stats_schemas import Dimension, Filters, GroupBy, Period, StageFilter

router = APIRouter(prefix="/stats/charts", tags=["statistics"], responses=ERROR_RESPONSES)

_SVG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/svg+xml": {}}, "description": "The chart, as SVG"}
}
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


# ---- the adapters to qc.stats: one function per chart, the only code that knows its API ----


def defect_rate_rows(
    session: Session, period: Period, group_by: GroupBy, stage: StageFilter, filters: Filters
) -> list[dict[str, Any]]:
    result = stats.defect_rate(
        session=session, period=period, group_by=group_by, stage=stage, filters=filters
    )
    return [row.model_dump() for row in result.rows]


def pareto_rows(
    session: Session, period: Period, dimension: Dimension, stage: StageFilter, filters: Filters
) -> list[dict[str, Any]]:
    result = stats.pareto(
        session=session, period=period, dimension=dimension, stage=stage, filters=filters
    )
    rows = [row.model_dump() for row in result.rows]
    if dimension == "kind":  # words on the chart; the table and the CSV keep the codes
        for row in rows:
            row["key"] = row["key"].replace("_", " ")
    return rows


# ---- routes ----------------------------------------------------------------------------------


def _span(period: Period) -> str:
    start, end = period.start, period.end
    first = f"{start.day} {start:%b}" if start.year == end.year else f"{start.day} {start:%b %Y}"
    return f"{first} – {end.day} {end:%b %Y}"


def _svg(text: str) -> Response:
    return Response(text, media_type="image/svg+xml", headers=_HEADERS)


_DIMENSION_WORDS = {"sku": "SKU", "kind": "kind", "station": "station", "packer": "packer"}
_STAGE_WORDS = {
    "caught": "caught at the bench",
    "escaped": "escaped to customers",
    "all": "caught and escaped",
}


@router.get("/defect-rate.svg", response_class=Response, responses=_SVG)
def defect_rate_chart(
    session: SessionDep,
    _: ManagerDep,
    when: PeriodDep,
    narrow: FiltersDep,
    group_by: Literal["day", "week"] = "day",
    stage: StageFilter = "caught",
) -> Response:
    """The parcel defect rate per day or week, with its p-chart control limits: the same
    parameters as `GET /stats/defect-rate`."""
    rows = defect_rate_rows(session, when, group_by, stage, narrow)
    title = f"Parcels with a defect, per {group_by}"
    subtitle = f"{_span(when)} · {_STAGE_WORDS[stage]}"
    return _svg(charts.line_chart_with_limits(rows, title=title, subtitle=subtitle))


@router.get("/pareto.svg", response_class=Response, responses=_SVG)
def pareto_chart(
    session: SessionDep,
    _: ManagerDep,
    when: PeriodDep,
    narrow: FiltersDep,
    dimension: Dimension = "sku",
    stage: StageFilter = "all",
) -> Response:
    """Defects by SKU, kind, station or packer, most first, with their cumulative share: the
    same parameters as `GET /stats/pareto`."""
    rows = pareto_rows(session, when, dimension, stage, narrow)
    title = f"Defects by {_DIMENSION_WORDS[dimension]}"
    subtitle = f"{_span(when)} · {_STAGE_WORDS[stage]}"
    return _svg(charts.pareto_chart(rows, title=title, subtitle=subtitle))
