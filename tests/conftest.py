"""Test harness: every database test runs on SQLite and, when QC_TEST_DATABASE_URL is set, on
PostgreSQL too. Migrations are applied once per engine; each test runs in a transaction that is
rolled back. Tests that need real commits (concurrency, the CLI) use `live_engine` instead and
leave the tables empty behind them.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session, SQLModel

from api.db import make_engine
from api.main import create_app
from api.migrate import upgrade
from api.settings import normalize_database_url
from qc.photo_store import FsPhotoStore, PhotoStore

# Tests revoke keys and expect the next request to see it; the cache has tests of its own.
os.environ["QC_AUTH_CACHE_SECONDS"] = "0"
PG_URL = os.environ.get("QC_TEST_DATABASE_URL")
ENGINES = ["sqlite", "postgres"] if PG_URL else ["sqlite"]
OUTPUT = Path(os.environ.get("QC_TEST_OUTPUT", "test-output"))


def _schema(prefix: str) -> str:
    """A schema name of this run and worker: parallel workers, and runs side by side, never meet."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:8]
    return f"{prefix}_{run}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}".lower()


def _in_postgres(*statements: str) -> None:
    assert PG_URL is not None
    admin = make_engine(normalize_database_url(PG_URL))
    try:
        with admin.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    except Exception as exc:  # CI must fail, not skip, when PostgreSQL is configured but unusable
        pytest.fail(
            f"QC_TEST_DATABASE_URL is set but PostgreSQL cannot be used: {exc}", pytrace=False
        )
    finally:
        admin.dispose()


def postgres_url(prefix: str = "qc_test") -> str:
    """The URL of a new, empty schema of this test worker's own."""
    assert PG_URL is not None
    schema = _schema(prefix)
    _in_postgres(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', f'CREATE SCHEMA "{schema}"')
    base = normalize_database_url(PG_URL)
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


def drop_postgres_schema(prefix: str = "qc_test") -> None:
    _in_postgres(f'DROP SCHEMA IF EXISTS "{_schema(prefix)}" CASCADE')


@pytest.fixture(scope="session", params=ENGINES)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "postgres":
        url = postgres_url()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'qc.db'}"
    upgrade(url)
    yield url
    if request.param == "postgres":
        drop_postgres_schema()


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


def nested_session(connection: Connection) -> Session:
    return Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    with nested_session(connection) as session:
        yield session


@pytest.fixture
def photo_store(tmp_path: Path) -> PhotoStore:
    """Where the app under test keeps photos: a folder of the test's own."""
    return FsPhotoStore(tmp_path / "photos")


@pytest.fixture
def client(engine: Engine, connection: Connection, photo_store: PhotoStore) -> Iterator[TestClient]:
    """The app, in process, with each request's transaction nested in the test's own."""
    app = create_app(engine=engine, photo_store=photo_store)

    app.state.sessions = lambda write: nested_session(connection)
    with TestClient(
        app, base_url="http://testserver/api/v1", raise_server_exceptions=False
    ) as client:
        yield client


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def live_engine(engine: Engine) -> Iterator[Engine]:
    """The real engine: requests commit. The tables are emptied afterwards."""
    _empty_tables(engine)
    yield engine
    _empty_tables(engine)


@pytest.fixture
def live_client(live_engine: Engine, photo_store: PhotoStore) -> Iterator[TestClient]:
    app = create_app(engine=live_engine, photo_store=photo_store)
    with TestClient(
        app, base_url="http://testserver/api/v1", raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture
def cli_env(
    db_url: str, live_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point the `qc` command (it reads QC_* settings) at the test database; yield its data dir."""
    from api.db import get_engine
    from api.settings import get_settings

    monkeypatch.setenv("QC_DATABASE_URL", db_url)
    monkeypatch.setenv("QC_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield tmp_path
    if get_engine.cache_info().currsize:  # the CLI made an engine: close its connections
        get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()
