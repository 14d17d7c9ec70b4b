"""Engines and the request-owned session: commit on success, roll back on error.

SQLite runs in WAL mode with foreign keys and a busy timeout. A write request begins its
transaction with BEGIN IMMEDIATE: a deferred transaction that reads and then writes can fail at
once with "database is locked" when another writer got in between, whatever the busy timeout;
taking the write lock up front makes writers queue instead.

Writers of one process queue on a Python lock taken just before BEGIN IMMEDIATE and released
when the connection returns to the pool. SQLite's own wait is sleep-and-retry: under load the
unlucky writers starve until the busy timeout fails them, while a lock hands over at once.
(Several processes on one SQLite file still meet at the busy timeout: PostgreSQL is the
production database.)
"""

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session

from api.settings import get_settings

_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
T = TypeVar("T")


def make_engine(
    url: str, *, busy_timeout_ms: int = 5000, sqlite_synchronous: str = "normal", **kwargs: Any
) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and explicit BEGINs."""
    if not url.startswith("sqlite"):
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
        # No pre-ping: it costs a round trip on every request. A connection that died with a
        # database restart fails its request with a 503 (api.errors), which stations retry.
        kwargs.setdefault("pool_recycle", 1800)
        return create_engine(url, **kwargs)
    if ":memory:" not in url and url.rstrip("/") != "sqlite:" and "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy (the "begin" hook below) issue BEGIN, not the sqlite3 module.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL: in WAL mode a commit survives a crash of this process but not a power cut;
        # FULL syncs the disk on every commit (QC_SQLITE_SYNCHRONOUS).
        cursor.execute(f"PRAGMA synchronous={'FULL' if sqlite_synchronous == 'full' else 'NORMAL'}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    gate, wait = threading.Lock(), busy_timeout_ms / 1000

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE":
            if not gate.acquire(timeout=wait):
                locked = sqlite3.OperationalError("database is locked: writers queued too long")
                raise OperationalError("BEGIN IMMEDIATE", {}, locked)
            conn.info["holds_gate"] = True
        conn.exec_driver_sql(f"BEGIN {mode}")

    def _release(_dbapi_conn: Any, record: Any, *_: Any) -> None:
        if record.info.pop("holds_gate", False):
            gate.release()

    for moment in ("checkin", "invalidate", "close"):
        event.listen(engine, moment, _release)
    return engine


@lru_cache(maxsize=64)
def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock when they begin."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(sqlite_begin="IMMEDIATE")


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    if settings.db_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(
        settings.db_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        sqlite_synchronous=settings.sqlite_synchronous,
    )


def session_for(engine: Engine, *, write: bool) -> Session:
    return Session(writer(engine) if write else engine, expire_on_commit=False)


SessionFactory = Callable[[bool], Session]


def session_factory(engine: Engine) -> SessionFactory:
    """How the app opens sessions (`write` or not); tests swap it for sessions of their own."""
    return lambda write: session_for(engine, write=write)


def get_session(request: Request) -> Iterator[Session]:
    """The request's session: one transaction, committed when the route returns normally.

    Route with `scope="function"`, so the commit happens before the response is sent: a
    client never gets an answer for a change that is not yet durable.
    """
    sessions: SessionFactory = request.app.state.sessions
    with sessions(request.method in _WRITE_METHODS) as session, committing(session):
        yield session


async def in_transaction(
    request: Request, work: Callable[[Session], T], *, write: bool | None = None
) -> T:
    """Run `work` and commit its transaction in one worker thread; every write route does.

    The same contract as `get_session` (committed before the answer is sent, rolled back on
    error) without the two extra thread hand-overs a `yield` dependency costs each request.
    Above all, no lock (SQLite's write slot, a PostgreSQL row lock) stays held while the
    request waits for the event loop between hand-overs, where other requests queue behind it.

    At most QC_DB_THREADS transactions of a process run at once, on threads of their own; the
    rest wait in the pool's queue, and a thread that finishes takes the next at once, without
    waiting for a turn of the event loop. Dozens of threads sharing one GIL stretch every
    transaction they run.

    `write` overrides what the method says: a GET that writes an audit event takes the
    write lock up front, as a POST does.
    """
    sessions: SessionFactory = request.app.state.sessions
    threads: ThreadPoolExecutor = request.app.state.db_threads
    writes = request.method in _WRITE_METHODS if write is None else write

    def run() -> T:
        with sessions(writes) as session, committing(session):
            return work(session)

    return await asyncio.get_running_loop().run_in_executor(threads, run)


@contextmanager
def committing(session: Session) -> Iterator[Session]:
    """Commit when the block ends normally; roll back if it raises."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
