"""The FastAPI application: API v1 under /api/v1, operations at the root."""

import logging

from fastapi import FastAPI
from sqlalchemy import Engine

from api import errors
from api.db import get_engine, session_factory
from api.deps import KeyCache
from api.routes import catalogue, ops, parcels
from api.settings import get_settings

API_PREFIX = "/api/v1"

DESCRIPTION = """
Packing-station quality control. Stations open a parcel by scanning the packing slip, scan every
item and get an instant answer, then close the parcel: it passes, or it is held until a
supervisor releases it. Authenticate with `Authorization: Bearer <key>` (keys come from
`qc station add` and `qc user add`). Errors are `{"error": code, "detail": sentence}`.
"""


def create_app(engine: Engine | None = None) -> FastAPI:
    app = FastAPI(title="Packing QC", version="1.0.0", description=DESCRIPTION)
    app.state.engine = engine if engine is not None else get_engine()
    app.state.sessions = session_factory(app.state.engine)
    app.state.key_cache = KeyCache(ttl=get_settings().auth_cache_seconds)
    errors.install(app)
    app.include_router(ops.router)
    for router in (ops.me_router, catalogue.router, parcels.router):
        app.include_router(router, prefix=API_PREFIX)
    logging.getLogger("qc").setLevel(logging.INFO)
    return app
