"""Prometheus metrics: what the floor does (scans, verdicts, defects, photos), how fast we answer.

`GET /metrics` is served at the root, beside `/health`, without a key: like `/health` it is for
the monitoring network only, and should be firewalled from the benches and the internet.

With several worker processes (`qc serve --workers N`) every process writes its counts to
memory-mapped files in PROMETHEUS_MULTIPROC_DIR (`api.serve` sets it before the workers start),
and `/metrics` adds up all the files, so the totals are right whichever worker answers.
prometheus_client picks that mode when it is first imported, from the environment; counters and
histograms only, as gauges would need a multiprocess mode of their own.

Counts are taken in the routes once the answer is committed, and only for new answers: a scan
replayed by its event id, or a POST replayed by its Idempotency-Key, counts nothing again.
"""

import json
import os
from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

import fastapi.routing
from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qc.enums import DefectKind, ScanResult, Stage

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ
# The `_created` series double the output for nothing a dashboard uses (and multiprocess mode
# has none): leave them out in both modes alike.
disable_created_metrics()  # type: ignore[no-untyped-call]

# How qc.verification records a refused scan: each refusal is one caught defect of this kind.
REFUSAL_DEFECTS = {
    ScanResult.WRONG_ITEM: DefectKind.WRONG_ITEM,
    ScanResult.UNKNOWN_CODE: DefectKind.WRONG_ITEM,
    ScanResult.OVER_QUANTITY: DefectKind.EXTRA_ITEM,
    ScanResult.EXPIRED_ITEM: DefectKind.EXPIRED_ITEM,
    ScanResult.DUPLICATE_SERIAL: DefectKind.SERIAL_MISMATCH,
}
# A fast API: most answers take a few milliseconds, a photo up to a few hundred.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

SCANS = Counter("qc_scans_total", "Scans answered, by result (replays not counted).", ["result"])
PARCELS_CLOSED = Counter(
    "qc_parcels_closed_total", "Parcels closed, by verdict (passed or held).", ["verdict"]
)
PARCELS_SHIPPED = Counter("qc_parcels_shipped_total", "Parcels marked shipped.")
OVERRIDES = Counter("qc_overrides_total", "Held parcels released by a supervisor.")
DEFECTS = Counter(
    "qc_defects_total",
    "Defects recorded, by kind and stage: refused scans and findings at close (caught).",
    ["kind", "stage"],
)
PHOTOS = Counter(
    "qc_photos_total",
    "Photo uploads: kept, or rejected by the quality gate (a same-file retry counts nothing).",
    ["outcome"],
)
HTTP_LATENCY = Histogram(
    "qc_http_request_duration_seconds",
    "Time from a request's arrival to its last byte sent, by route template.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)

# Every series of a bounded label set exists from the start, at 0: a rate over a series that
# appears with its first event misses that event. Children are looked up once, not per event.
_SCANS = {result.value: SCANS.labels(result.value) for result in ScanResult}
_CLOSED = {verdict: PARCELS_CLOSED.labels(verdict) for verdict in ("passed", "held")}
_DEFECTS = {
    (kind.value, stage.value): DEFECTS.labels(kind.value, stage.value)
    for kind in DefectKind
    for stage in Stage
}
_PHOTOS = {outcome: PHOTOS.labels(outcome) for outcome in ("kept", "rejected")}
_timers: dict[tuple[str, str, int], Histogram] = {}


def _defect(kind: str, stage: str = Stage.CAUGHT) -> None:
    child = _DEFECTS.get((kind, stage))
    (child or DEFECTS.labels(kind, stage)).inc()


def scan_answered(answer: Mapping[str, Any]) -> None:
    """Count a new scan answer (never a replay's) and the caught defect a refusal records."""
    result = answer["result"]
    (_SCANS.get(result) or SCANS.labels(result)).inc()
    kind = REFUSAL_DEFECTS.get(result)
    if kind is not None:
        _defect(kind)


def _replayed(response: Response) -> bool:
    """Whether api.idempotency replayed a stored answer (it marks those with this header)."""
    return "idempotent-replayed" in response.headers


def parcel_closed(response: Response) -> None:
    """Count a close's verdict and the defects found at close, unless it is a replay."""
    if _replayed(response):
        return
    body = json.loads(bytes(response.body))
    (_CLOSED.get(body["status"]) or PARCELS_CLOSED.labels(body["status"])).inc()
    for defect in body["defects"]:
        _defect(defect["kind"])


def parcel_shipped(response: Response) -> None:
    if not _replayed(response):
        PARCELS_SHIPPED.inc()


def hold_overridden(response: Response) -> None:
    if not _replayed(response):
        OVERRIDES.inc()


def photo(outcome: str) -> None:
    """Count a photo `kept` (a new row) or `rejected` (refused by the quality gate)."""
    _PHOTOS[outcome].inc()


def _observe(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    timer = _timers.get(key)
    if timer is None:
        # Bounded: methods are a fixed set, routes the app's templates, statuses a few dozen.
        timer = _timers[key] = HTTP_LATENCY.labels(method, route, str(status))
    timer.observe(seconds)


def route_templates(routes: Iterable[BaseRoute]) -> dict[int, str]:
    """The full path template of each route, by the id of the object the router leaves in a
    request's scope: the route (`scope["route"]`), or else its endpoint (a mount's app).

    Since FastAPI 0.137 an included router's routes are not copied into the app with their
    prefix: `scope["route"].path` lacks it (`/parcels/{parcel_id}`), and `iter_route_contexts`
    pairs each original route with its full path. Before that, a route's own path is the full one.
    """
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    templates = {}
    for route in contexts(routes) if contexts is not None else routes:
        path = getattr(route, "path", None)
        if not path:
            continue
        original = getattr(route, "original_route", route)
        templates[id(original)] = path
        # Mounts and plain Starlette routes (/docs, /static) leave only their endpoint.
        for served in (getattr(original, "endpoint", None), getattr(original, "app", None)):
            if served is not None:
                templates.setdefault(id(served), path)
    return templates


class RequestTimer:
    """Time every HTTP request into `qc_http_request_duration_seconds`.

    A pure ASGI middleware: Starlette's BaseHTTPMiddleware would cost ~0.3 ms a request. The
    `route` label is the matched route's full path template (`/api/v1/parcels/{parcel_id}/scans`),
    never the raw path, where ids would make one series each; `unmatched` when no route matched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: dict[int, str] = {}

    def _route(self, scope: Scope) -> str:
        matched = scope.get("route") or scope.get("endpoint")
        if matched is None:
            return "unmatched"
        template = self._templates.get(id(matched))
        if template is None:  # the first request of this route: learn the app's routes again
            self._templates |= route_templates(scope["app"].routes)
            template = self._templates.setdefault(
                id(matched), getattr(matched, "path", None) or "unmatched"
            )
        return template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets when the app raises before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = perf_counter()
        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"]
            _observe(
                method if method in _METHODS else "other",
                self._route(scope),
                status,
                perf_counter() - start,
            )


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics() -> Response:
    """Prometheus text format, summed over the server's worker processes. No key: firewall it."""
    registry = REGISTRY
    if MULTIPROCESS:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
