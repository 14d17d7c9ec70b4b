"""`qc photos purge` (retention, holds) and `qc photos sweep` (orphan files), end to end."""

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from api.cli import app
from qc.models import AuditEvent, Photo, utcnow
from qc.photo_store import PhotoStore
from tests import photo_stores
from tests.api.test_packing import open_parcel
from tests.factories import World, make_world
from tests.photo_images import jpeg, parcel_scene

# Every test here runs on both photo stores: a folder, and a real S3 server (SeaweedFS).
photo_store = photo_stores.photo_store
seaweed = photo_stores.seaweed

runner = CliRunner()


def qc(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def world(cli_env: Path, live_engine: Engine) -> World:
    with Session(live_engine) as session:
        made = make_world(session)
        session.commit()
    return made


def photographed(client: TestClient, world: World, order: str, seed: int) -> tuple[int, int]:
    parcel = open_parcel(client, world, order=order)
    answer = client.post(
        f"/parcels/{parcel['id']}/photos",
        files={"file": ("p.jpg", jpeg(parcel_scene(800, 600, seed=seed)), "image/jpeg")},
        headers=world.auth("station"),
    )
    assert answer.status_code == 201, answer.text
    return parcel["id"], answer.json()["id"]


def age(engine: Engine, photo_id: int, days: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(Photo)
            .where(col(Photo.id) == photo_id)
            .values(created_at=utcnow() - timedelta(days=days))
        )


def test_purge_deletes_old_photos_but_not_held_or_young_ones(
    world: World, live_client: TestClient, live_engine: Engine, photo_store: PhotoStore
) -> None:
    old_parcel, old = photographed(live_client, world, "1001", seed=1)
    held_parcel, held = photographed(live_client, world, "1002", seed=2)
    age(live_engine, old, days=121)
    age(live_engine, held, days=200)
    hold = live_client.post(
        f"/parcels/{held_parcel}/hold-evidence",
        json={"reason": "chargeback"},
        headers=world.auth("support"),
    )
    assert hold.status_code == 201

    dry = qc("photos", "purge")
    assert dry.exit_code == 0, dry.output
    assert "1 photo(s)" in dry.output and "1 more are kept by evidence holds" in dry.output
    assert "nothing deleted" in dry.output
    with Session(live_engine) as session:
        assert session.exec(select(Photo).where(col(Photo.purged_at).is_not(None))).all() == []
    assert len(list(photo_store.list_keys())) == 4

    done = qc("photos", "purge", "--apply")
    assert done.exit_code == 0, done.output
    assert "Purged 1 photo(s); deleted 2 file(s)." in done.output
    with Session(live_engine) as session:
        purged = session.get_one(Photo, old)
        kept = session.get_one(Photo, held)
        assert purged.purged_at is not None and kept.purged_at is None
        assert not photo_store.exists(purged.sha256) and photo_store.exists(kept.sha256)
        actions = session.exec(select(AuditEvent.action)).all()
        assert "photo.purge" in actions

    gone = live_client.get(f"/photos/{old}", headers=world.auth("support"))
    assert (gone.status_code, gone.json()["error"]) == (410, "photo_purged")
    detail = live_client.get(f"/parcels/{old_parcel}", headers=world.auth("support")).json()
    assert detail["photos"][0]["purged"] is True and detail["photos"][0]["url"] is None
    assert qc("photos", "purge", "--apply").output.startswith("0 photo(s)")


def test_purge_honours_a_released_hold_and_a_shorter_period(
    world: World, live_client: TestClient, live_engine: Engine
) -> None:
    parcel, photo = photographed(live_client, world, "1001", seed=3)
    age(live_engine, photo, days=10)
    url = f"/parcels/{parcel}/hold-evidence"
    live_client.post(url, json={"reason": "dispute"}, headers=world.auth("support"))
    assert "Purged 0 photo(s)" in qc("photos", "purge", "--apply", "--days", "7").output
    live_client.delete(url, headers=world.auth("manager"))
    assert "Purged 1 photo(s)" in qc("photos", "purge", "--apply", "--days", "7").output


@pytest.mark.parametrize("photo_store", ["fs"], indirect=True)  # ages files with os.utime
def test_sweep_removes_old_orphan_files_only(
    world: World, live_client: TestClient, photo_store: PhotoStore
) -> None:
    # An upload whose file was written but whose row never committed (a crash between the
    # two) leaves an orphan; once past the grace period, the sweeper removes it.
    _, photo = photographed(live_client, world, "1001", seed=4)
    orphan = photo_store.put(jpeg(parcel_scene(400, 300, seed=9)))
    young = photo_store.put(jpeg(parcel_scene(400, 300, seed=10)))
    root = Path(os.environ["QC_DATA_DIR"]) / "photos"
    old_time = time.time() - 3 * 24 * 3600
    for path in root.rglob("*"):
        if path.is_file() and path.name != young:
            os.utime(path, (old_time, old_time))

    listed = qc("photos", "sweep", "--dry-run")
    assert listed.exit_code == 0, listed.output
    assert "1 orphan file(s) would be deleted." in listed.output
    assert photo_store.exists(orphan)

    swept = qc("photos", "sweep")
    assert swept.exit_code == 0, swept.output
    assert "Deleted 1 orphan file(s)." in swept.output
    assert not photo_store.exists(orphan) and photo_store.exists(young)
    image = live_client.get(f"/photos/{photo}", headers=world.auth("manager"))
    assert image.status_code == 200  # a committed photo keeps its file
