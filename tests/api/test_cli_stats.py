"""`qc stats rebuild [--check]`: the rollups proved against the raw rows, and rebuilt."""

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from api.cli import app
from qc.models import StatCell
from tests.api.test_packing import close, open_parcel, scan
from tests.factories import CABLE, MUG, PHONE, World, make_world

runner = CliRunner()


def test_check_finds_a_tampered_rollup_and_rebuild_mends_it(
    cli_env: Path, live_engine: Engine, live_client: TestClient
) -> None:
    with Session(live_engine) as session:
        world: World = make_world(session)
        session.commit()
    parcel = open_parcel(live_client, world)
    for code in (MUG, PHONE, MUG, CABLE):
        scan(live_client, world, parcel["id"], code)
    close(live_client, world, parcel["id"])

    checked = runner.invoke(app, ["stats", "rebuild", "--check"])
    assert checked.exit_code == 0, checked.output
    assert "match" in checked.output

    with live_engine.begin() as conn:
        conn.execute(update(StatCell).where(col(StatCell.sku_id) == 0).values(parcels=5))
    tampered = runner.invoke(app, ["stats", "rebuild", "--check"])
    assert tampered.exit_code == 1
    assert "differ" in tampered.output and "'parcels': 5" in tampered.output

    rebuilt = runner.invoke(app, ["stats", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.output.startswith("Rebuilt the rollups: 1 day(s)")
    assert runner.invoke(app, ["stats", "rebuild", "--check"]).exit_code == 0
    with Session(live_engine) as session:
        cell = session.exec(
            select(StatCell).where(StatCell.sku_id == 0, StatCell.kind == "", StatCell.stage == "")
        ).one()
        assert (cell.parcels, cell.defective) == (1, 1)
