"""Retention's promise: expired photos go, the anonymous statistics and the parcel's story stay,
and a parcel under an evidence hold keeps its photo. Run end to end through `qc photos purge`."""

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import app
from qc.models import Photo, utcnow
from qc.photo_store import PhotoStore
from tests import photo_stores
from tests.api.test_packing import close, open_parcel, scan
from tests.factories import CABLE, MUG, World, make_world
from tests.photo_images import jpeg, parcel_scene

# Every test here runs on both photo stores: a folder, and a real S3 server (SeaweedFS).
photo_store = photo_stores.photo_store
seaweed = photo_stores.seaweed

STATS = [
    ("summary", {}),
    ("defect-rate", {"group_by": "day", "stage": "all"}),
    ("defect-rate", {"group_by": "kind", "stage": "all"}),
    ("defect-rate", {"group_by": "packer", "stage": "caught"}),
]


@pytest.fixture
def world(cli_env: Path, live_engine: Engine) -> World:
    with Session(live_engine) as session:
        made = make_world(session)
        session.commit()
    return made


def packed(client: TestClient, world: World, order: str, codes: list[str], seed: int) -> int:
    """A parcel of `order` photographed, scanned with `codes` and closed; its id."""
    parcel = open_parcel(client, world, order=order)
    answer = client.post(
        f"/parcels/{parcel['id']}/photos",
        files={"file": ("p.jpg", jpeg(parcel_scene(800, 600, seed=seed)), "image/jpeg")},
        headers=world.auth("station"),
    )
    assert answer.status_code == 201, answer.text
    for code in codes:
        scan(client, world, parcel["id"], code)
    close(client, world, parcel["id"])
    return int(parcel["id"])


def statistics(client: TestClient, world: World) -> list[dict]:
    answers = [
        client.get(f"/stats/{path}", params=params, headers=world.auth("manager"))
        for path, params in STATS
    ]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    return [a.json() for a in answers]


def bundle(client: TestClient, world: World, parcel_id: int) -> tuple[list[str], dict]:
    answer = client.get(f"/parcels/{parcel_id}/evidence", headers=world.auth("support"))
    assert answer.status_code == 200, answer.text
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        return archive.namelist(), json.loads(archive.read("parcel.json"))


def test_purging_photos_keeps_the_statistics_and_the_story_but_not_the_images(
    world: World, live_client: TestClient, live_engine: Engine, photo_store: PhotoStore
) -> None:
    good = packed(live_client, world, "1001", [MUG, MUG, CABLE], seed=1)
    held = packed(live_client, world, "1002", [], seed=2)  # nothing scanned: held, defects
    shipped = live_client.post(f"/parcels/{good}/ship", json={"tracking_number": "TRK-R1"},
                               headers=world.auth("station"))  # fmt: skip
    assert shipped.status_code == 200, shipped.text
    hold = live_client.post(f"/parcels/{held}/hold-evidence", json={"reason": "chargeback"},
                            headers=world.auth("support"))  # fmt: skip
    assert hold.status_code == 201, hold.text
    with live_engine.begin() as conn:  # both photos past the 120-day retention
        conn.execute(update(Photo).values(created_at=utcnow() - timedelta(days=200)))
    before = statistics(live_client, world)
    assert before[0]["current"]["parcels_closed"] == 2  # the figures are not empty ones
    assert bundle(live_client, world, good)[0][0].startswith("photos/")

    done = CliRunner().invoke(app, ["photos", "purge", "--apply"])
    assert done.exit_code == 0, done.output
    assert "Purged 1 photo(s); deleted 2 file(s)." in done.output

    assert statistics(live_client, world) == before
    detail = live_client.get(f"/parcels/{good}", headers=world.auth("support")).json()
    [photo] = detail["photos"]
    assert photo["purged"] is True and photo["url"] is None
    with Session(live_engine) as session:
        row = session.get_one(Photo, photo["id"])
        assert row.purged_at is not None and not photo_store.exists(row.sha256)
    files, record = bundle(live_client, world, good)
    assert files == ["parcel.json", "manifest.json"]
    assert [(p["id"], p["purged"], p["file"]) for p in record["photos"]] == [
        (photo["id"], True, None)
    ]
    assert [s["result"] for s in record["scans"]] == ["accepted"] * 3  # the story stays

    # The held parcel's photo was skipped by the purge: still there, still in its bundle.
    held_files, held_record = bundle(live_client, world, held)
    assert held_files[0] == f"photos/photo-{held_record['photos'][0]['id']}.jpg"
    with Session(live_engine) as session:
        kept = session.get_one(Photo, held_record["photos"][0]["id"])
        assert kept.purged_at is None and photo_store.exists(kept.sha256)
    assert held_record["evidence_hold"]["held"] is True
