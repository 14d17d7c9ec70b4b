"""The SQLite engine: WAL, foreign keys, busy timeout, and writers that take the lock up front."""

import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from api.db import make_engine, session_for
from api.migrate import upgrade


@pytest.fixture
def sqlite_engine(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url, busy_timeout_ms=200)
    yield engine
    engine.dispose()


def test_pragmas(sqlite_engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200


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
