"""One Alembic history gives the models' schema, and the same one on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, types
from sqlmodel import SQLModel

import qc.models  # noqa: F401  (the tables)
from api.db import make_engine
from api.migrate import alembic_config, upgrade
from qc.rollup_grains import GRAINS, fold, stored
from qc.rollups import CELLS, cell_row
from tests.conftest import PG_URL, drop_postgres_schema, postgres_url


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def _type(column_type: types.TypeEngine[Any]) -> tuple[str, Any]:
    """A column type as both engines can agree on it: its generic kind and, for text, its length."""
    for kind in (
        types.Boolean,
        types.Integer,
        types.Float,
        types.String,
        types.DateTime,
        types.Date,
        types.JSON,
    ):
        if isinstance(column_type, kind):
            return kind.__name__, getattr(column_type, "length", None)
    if type(column_type).__name__ in ("NullType",):
        return "null", None
    return type(column_type).__name__, None


def describe(engine: Engine) -> dict[str, Any]:
    inspector = inspect(engine)
    schema = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        schema[table] = {
            "columns": [
                (c["name"], _type(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (
                    fk["name"],
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
                if not i["name"].startswith(
                    "uq_"
                )  # PostgreSQL lists unique constraints as indexes too
            ),
        }
    return schema


@pytest.mark.skipif(
    PG_URL is None, reason="compares with PostgreSQL: set QC_TEST_DATABASE_URL (CI does)"
)
def test_sqlite_and_postgresql_get_the_same_schema(tmp_path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'schema.db'}"
    pg_url = postgres_url("qc_schema")
    upgrade(sqlite_url)
    upgrade(pg_url)
    engines = [make_engine(sqlite_url), make_engine(pg_url)]
    try:
        on_sqlite, on_postgres = (describe(e) for e in engines)
        assert on_sqlite.keys() == on_postgres.keys()
        for table in on_sqlite:
            assert on_sqlite[table] == on_postgres[table], table
    finally:
        for e in engines:
            e.dispose()
        drop_postgres_schema("qc_schema")


def test_downgrade_to_base_and_up_again(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    assert "parcel" in inspect(engine).get_table_names()
    engine.dispose()


@pytest.mark.parametrize("engine_name", ["sqlite", "postgres"])
def test_revision_0004_fills_the_coarse_grains_from_stored_cells(tmp_path, engine_name) -> None:
    if engine_name == "postgres" and PG_URL is None:
        pytest.skip("set QC_TEST_DATABASE_URL (CI does)")
    url = f"sqlite:///{tmp_path / 'fill.db'}"
    if engine_name == "postgres":
        url = postgres_url("qc_fill")
    try:
        command.upgrade(alembic_config(url), "0003")
        hourly = {
            _cell(date(2026, 1, 31), 9, 1, 7, 0, "", ""): {"parcels": 2},
            _cell(date(2026, 1, 31), 10, 1, 7, 0, "", ""): {"parcels": 1},
            _cell(date(2026, 1, 31), 9, 1, 7, 5, "", ""): {"units": 3},
            _cell(date(2026, 1, 31), 9, 2, 8, 5, "wrong_item", "caught"): {"defects": 1},
            _cell(date(2026, 2, 1), 9, 2, 8, 5, "", ""): {"units": 4},
            _cell(date(2026, 2, 2), 9, 2, 8, 5, "", ""): {"units": 1},
        }
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(CELLS.insert(), [cell_row(k, c) for k, c in hourly.items()])
        engine.dispose()
        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            for grain in GRAINS:
                folded: dict[Any, Any] = {}
                fold(grain, hourly, folded)
                assert stored(conn, grain, sa.true()) == folded, grain.table.name
        engine.dispose()
    finally:
        if engine_name == "postgres":
            drop_postgres_schema("qc_fill")


def _cell(day: date, hour: int, *rest: Any) -> tuple[Any, ...]:
    return (day, datetime(day.year, day.month, day.day, hour, tzinfo=UTC), *rest)
