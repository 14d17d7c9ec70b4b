"""Bad input to the packing routes: a clear 4xx with a machine code, and nothing changes."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from qc.models import Defect, Parcel, ParcelLine, Scan
from tests.factories import MUG, World, make_world


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def parcel(client: TestClient, world: World) -> int:
    opened = client.post(
        "/parcels", json={"order": "1001", "packer": "P-001"}, headers=world.auth("station")
    )
    client.post(
        f"/parcels/{opened.json()['id']}/scans",
        json={"code": MUG, "event_id": "m1"},
        headers=world.auth("station"),
    )
    return opened.json()["id"]


def snapshot(session: Session) -> tuple:
    counts = tuple(
        session.exec(select(func.count()).select_from(m)).one() for m in (Parcel, Scan, Defect)
    )
    lines = tuple(
        session.exec(select(ParcelLine.accepted, ParcelLine.damaged, ParcelLine.short)).all()
    )
    return counts, lines, tuple(session.exec(select(Parcel.status, Parcel.weight_g)).all())


CASES = [
    ("scans", {"code": MUG}, 422, "invalid_request"),
    ("scans", {"code": MUG, "event_id": ""}, 422, "invalid_request"),
    ("scans", {"code": MUG, "event_id": "has space"}, 422, "invalid_request"),
    ("scans", {"code": "", "event_id": "e"}, 422, "invalid_request"),
    ("scans", {"code": "x" * 257, "event_id": "e"}, 422, "invalid_request"),
    ("scans", {"code": MUG, "event_id": "e", "source": "telepathy"}, 422, "invalid_request"),
    (
        "scans",
        {"code": MUG, "event_id": "e", "recorded_at": "2026-11-22T10:00:00"},
        422,
        "invalid_request",
    ),
    ("scans", {"code": MUG, "event_id": "m1x", "extra": 1}, 422, "invalid_request"),
    ("damaged", {"sku": "MUG", "qty": 2}, 409, "nothing_to_flag"),
    ("damaged", {"sku": "TEA"}, 404, "sku_not_in_order"),
    ("damaged", {"sku": "MUG", "qty": -1}, 422, "invalid_request"),
    ("short", {"sku": "MUG", "qty": 1}, 422, "invalid_request"),
    ("short", {"sku": "MUG", "qty": 1, "reason": "   "}, 422, "invalid_request"),
    ("short", {"sku": "MUG", "qty": 2, "reason": "gone"}, 409, "short_exceeds_remaining"),
    ("short", {"sku": "PHONE", "qty": 1, "reason": "gone"}, 404, "sku_not_in_order"),
    ("weight", {"grams": -5}, 422, "invalid_request"),
    ("weight", {"grams": "heavy"}, 422, "invalid_request"),
    ("weight", {"grams": 10**9}, 422, "invalid_request"),
    ("ship", {"tracking_number": "TRACK-1"}, 409, "parcel_packing"),
    ("ship", {"tracking_number": "a b"}, 422, "invalid_request"),
    ("override", {"reason": "ok"}, 403, "role_required"),
]


@pytest.mark.parametrize(("action", "body", "status", "code"), CASES, ids=lambda c: str(c)[:30])
def test_bad_packing_input(
    client: TestClient,
    world: World,
    session: Session,
    parcel: int,
    action: str,
    body: dict,
    status: int,
    code: str,
) -> None:
    before = snapshot(session)
    response = client.post(f"/parcels/{parcel}/{action}", json=body, headers=world.auth("station"))
    assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert response.json()["detail"]
    assert snapshot(session) == before


@pytest.mark.parametrize(
    "path",
    ["/parcels/0/close", "/parcels/-1/close", "/parcels/99999999999/close", "/parcels/x/close"],
)
def test_bad_parcel_ids(client: TestClient, world: World, path: str) -> None:
    response = client.post(path, headers=world.auth("station"))
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_tracking_number_belongs_to_one_parcel(
    client: TestClient, world: World, session: Session
) -> None:
    from tests.factories import make_order

    make_order(session, number="6001", lines=[("MUG", 1)])
    make_order(session, number="6002", lines=[("MUG", 1)])
    station = world.auth("station")
    for i, number in enumerate(("6001", "6002")):
        pid = client.post(
            "/parcels", json={"order": number, "packer": "P-001"}, headers=station
        ).json()["id"]
        client.post(
            f"/parcels/{pid}/scans", json={"code": MUG, "event_id": f"t{i}"}, headers=station
        )
        client.post(f"/parcels/{pid}/close", headers=station)
        shipped = client.post(
            f"/parcels/{pid}/ship", json={"tracking_number": "TRACK-42"}, headers=station
        )
    assert (shipped.status_code, shipped.json()["error"]) == (409, "tracking_number_taken")


def test_void_needs_a_reason_and_a_live_parcel(
    client: TestClient, world: World, parcel: int
) -> None:
    supervisor = world.auth("supervisor")
    assert client.post(f"/parcels/{parcel}/void", json={}, headers=supervisor).status_code == 422
    assert (
        client.post(f"/parcels/{parcel}/void", json={"reason": "x"}, headers=supervisor).status_code
        == 200
    )
    again = client.post(f"/parcels/{parcel}/void", json={"reason": "x"}, headers=supervisor)
    assert (again.status_code, again.json()["error"]) == (409, "parcel_not_voidable")
