"""The FastAPI application: API v1 under /api/v1, operations at the root."""

import gc
import logging
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from api import errors, metrics, pages
from api.db import get_engine, session_factory
from api.deps import API_PREFIX, KeyCache
from api.routes import (
    audit,
    catalogue,
    charts,
    complaints,
    evidence,
    lookup,
    ops,
    parcels,
    photos,
    stats,
    webhooks,
)
from api.settings import get_settings
from api.storage import make_store
from api.webhook_deliverer import Deliverer
from qc.photo_store import PhotoStore

DESCRIPTION = """
Packing-station quality control. Stations open a parcel by scanning the packing slip, scan every
item and get an instant answer, then close the parcel: it passes, or it is held until a
supervisor releases it. Authenticate with `Authorization: Bearer <key>` (keys come from
`qc station add` and `qc user add`). Errors are `{"error": code, "detail": sentence}`.
"""


# A worker thread that returns from the database waits for the GIL while the event loop runs
# Python code; CPython hands the GIL over only every switch interval (5 ms by default). A scan
# makes several database calls, so under load the default adds tens of milliseconds to a
# transaction and, on SQLite, to every writer queued behind it. Measured in bench/scan_load.py.
GIL_SWITCH_INTERVAL_S = 0.0005
_tuned = False


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the transaction threads; tune the process once: GIL hand-over, and the GC.

    Everything alive at start-up (modules, the app, compiled statements) lives as long as the
    process: freezing it keeps the collector's full passes, which stop the whole process, from
    walking it again and again (tens of milliseconds each on a small machine).
    """
    global _tuned
    if not _tuned:
        _tuned = True
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        gc.collect()
        gc.freeze()
    # Transactions run on these threads (api.db.in_transaction); they start as first needed.
    threads = ThreadPoolExecutor(get_settings().db_threads, thread_name_prefix="qc-db")
    app.state.db_threads = threads
    # Photos are decoded this many at a time per process: each holds tens of megabytes.
    app.state.image_slots = anyio.CapacityLimiter(2)
    # Due webhook deliveries go out from a thread of their own, on sessions of the real engine
    # (tests swap app.state.sessions for theirs); every process runs one, leases keep them apart.
    deliverer = Deliverer(session_factory(app.state.engine)) if app.state.webhook_delivery else None
    if deliverer is not None:
        deliverer.start()
    try:
        yield
    finally:
        if deliverer is not None and not deliverer.stop():
            logging.getLogger("qc.webhooks").warning("the webhook deliverer did not stop in time")
        threads.shutdown(wait=True)


def create_app(
    engine: Engine | None = None,
    photo_store: PhotoStore | None = None,
    *,
    webhook_delivery: bool | None = None,
) -> FastAPI:
    """The app. It sends webhooks (QC_WEBHOOK_DELIVERY) when it makes its own engine; an app
    given an engine (tests, benchmarks) sends them only if `webhook_delivery` asks it to."""
    app = FastAPI(title="Packing QC", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    if webhook_delivery is None:
        webhook_delivery = engine is None and get_settings().webhook_delivery
    app.state.webhook_delivery = webhook_delivery
    app.state.engine = engine if engine is not None else get_engine()
    app.state.photo_store = photo_store if photo_store is not None else make_store(get_settings())
    app.state.sessions = session_factory(app.state.engine)
    app.state.key_cache = KeyCache(ttl=get_settings().auth_cache_seconds)
    errors.install(app)
    app.add_middleware(metrics.RequestTimer)
    app.include_router(ops.router)
    app.include_router(metrics.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    for router in (ops.me_router, catalogue.router, parcels.router, photos.router, stats.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(charts.router, prefix=API_PREFIX)
    app.include_router(lookup.router, prefix=API_PREFIX)
    app.include_router(evidence.router, prefix=API_PREFIX)
    app.include_router(audit.router, prefix=API_PREFIX)
    app.include_router(complaints.router, prefix=API_PREFIX)
    app.include_router(webhooks.router, prefix=API_PREFIX)
    logging.getLogger("qc").setLevel(logging.INFO)
    return app
