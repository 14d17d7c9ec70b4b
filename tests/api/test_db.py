"""The SQLite engine: WAL, foreign keys, busy timeout, and writers that take the lock up front."""

import time
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from api.db import make_engine, session_for
from api.migrate import upgrade
from api.settings import Settings


@pytest.fixture
def sqlite_engine(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url, busy_timeout_ms=200)
    yield engine
    engine.dispose()


def test_pragmas(sqlite_engine, tmp_path: Path) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    full = make_engine(f"sqlite:///{tmp_path / 'full.db'}", sqlite_synchronous="full")
    with full.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    full.dispose()


def test_foreign_keys_are_enforced(sqlite_engine) -> None:
    orphan = text("INSERT INTO barcode (code, product_id, pack_qty) VALUES ('X', 999, 1)")
    with session_for(sqlite_engine, write=True) as session, pytest.raises(IntegrityError):
        session.execute(orphan)


def test_a_write_session_holds_the_lock_from_its_start_and_reads_go_on(sqlite_engine) -> None:
    writer = session_for(sqlite_engine, write=True)
    writer.execute(text("SELECT 1"))  # only a read, yet the write lock is taken
    try:
        with session_for(sqlite_engine, write=False) as reader:
            assert reader.execute(text("SELECT count(*) FROM product")).scalar() == 0
        second = session_for(sqlite_engine, write=True)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            second.execute(text("SELECT 1"))
        assert time.monotonic() - started >= 0.15  # it waited for the busy timeout first
        second.close()
    finally:
        writer.close()


def test_the_commit_happens_before_the_answer_is_sent(
    live_client, live_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A station must never get 200 for a scan whose commit then fails."""
    from sqlmodel import Session, func, select

    from api.db import session_for
    from qc.models import Scan
    from tests.factories import MUG, make_world

    with session_for(live_engine, write=True) as session:
        world = make_world(session)
        session.commit()
    station = world.auth("station")
    parcel = live_client.post(
        "/parcels", json={"order": "1001", "packer": "P-001"}, headers=station
    ).json()

    def failing_commit(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "commit", failing_commit)
    answer = live_client.post(
        f"/parcels/{parcel['id']}/scans", json={"code": MUG, "event_id": "c1"}, headers=station
    )
    monkeypatch.undo()
    assert answer.status_code == 503
    assert answer.json()["error"] == "database_unavailable"
    with Session(live_engine) as session:
        assert session.exec(select(func.count()).select_from(Scan)).one() == 0


def test_a_locked_database_is_a_503_with_retry_after(sqlite_engine) -> None:
    """Another process holding SQLite's write lock past the busy timeout: retry, not a bug."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from qc.enums import Role
    from qc.identity import add_user

    with session_for(sqlite_engine, write=True) as session:
        _, key = add_user(session=session, name="Ada", role=Role.ADMIN)
        session.commit()
    holder = session_for(sqlite_engine, write=True)
    holder.execute(text("SELECT 1"))  # a writer that keeps the lock past the busy timeout
    try:
        app = create_app(engine=sqlite_engine)
        with TestClient(app, base_url="http://testserver/api/v1") as client:
            response = client.put(
                "/products/X", json={"name": "x"}, headers={"Authorization": f"Bearer {key}"}
            )
    finally:
        holder.close()
    assert response.status_code == 503
    assert response.json()["error"] == "database_busy"
    assert response.headers["retry-after"] == "1"


def test_a_value_the_database_refuses_is_a_400(
    client, session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import DataError

    from tests.factories import make_world

    world = make_world(session)

    def refuse(**_: object) -> None:
        raise DataError("INSERT", {}, Exception("value cannot be stored"))

    monkeypatch.setattr("api.routes.catalogue.catalogue.upsert_product", refuse)
    response = client.put("/products/X", json={"name": "x"}, headers=world.auth("admin"))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_value")


def test_transaction_threads_must_be_one_or_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QC_DB_THREADS", "0")
    with pytest.raises(ValidationError, match="db_threads"):
        Settings()
