"""Fuzz the whole API from its own OpenAPI schema, in process: no 5xx, and every response
matches the schema (status codes, content types, bodies). Each operation is called with the key
of a caller allowed to use it, so the fuzz reaches the domain, not just the role check.

Schemathesis' pytest plugin (`from_fixture`) does not run under pytest 9, so each operation's
Hypothesis strategy is driven here directly, inside an ordinary database test.
"""

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from api.db import make_engine
from api.main import create_app
from qc.photo_store import FsPhotoStore
from tests.conftest import nested_session
from tests.factories import World, make_world

EXAMPLES = 25
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
# The schema is read from an app whose engine is swapped for the test's own in each test.
APP = create_app(
    engine=make_engine("sqlite://"),
    photo_store=FsPhotoStore(Path(tempfile.mkdtemp(prefix="qc-fuzz-photos-"))),
)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def caller_for(method: str, path: str) -> str:
    if path.endswith(("/override", "/void")):
        return "supervisor"
    if path.endswith("/hold-evidence"):
        return "support" if method == "POST" else "manager"
    if path.startswith("/api/v1/parcels") and method == "POST":
        return "station"
    if path.startswith("/api/v1/parcels"):
        return "support"
    return "admin"


@pytest.fixture
def fuzzed_app(engine: Engine, connection: Connection) -> None:
    APP.state.engine = engine
    APP.state.sessions = lambda write: nested_session(connection)


def test_every_operation_is_fuzzed() -> None:
    assert len(OPERATIONS) >= 15


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_api_fuzz(operation, fuzzed_app: None, session: Session) -> None:
    world: World = make_world(session)
    headers = world.auth(caller_for(operation.method.upper(), operation.path))

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
