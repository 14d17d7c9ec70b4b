"""Packing through the API: open, scan, damaged, short, weight, close, override, void, ship."""

import itertools

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from qc.models import AuditEvent, Defect, Scan
from tests.factories import (
    BODY,
    CABLE,
    CABLE_CASE,
    LID,
    MUG,
    MUG_UPC,
    PHONE,
    TEA,
    World,
    make_world,
)

_ids = itertools.count(1)


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def open_parcel(
    client: TestClient, world: World, order: str = "1001", who: str = "station"
) -> dict:
    response = client.post(
        "/parcels", json={"order": order, "packer": "P-001"}, headers=world.auth(who)
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def scan(client: TestClient, world: World, parcel_id: int, code: str, **extra: object) -> dict:
    body = {"code": code, "event_id": extra.pop("event_id", f"ev-{next(_ids)}"), **extra}
    response = client.post(f"/parcels/{parcel_id}/scans", json=body, headers=world.auth("station"))
    assert response.status_code == 200, response.text
    return response.json()


def close(client: TestClient, world: World, parcel_id: int) -> dict:
    response = client.post(f"/parcels/{parcel_id}/close", headers=world.auth("station"))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_correct_parcel_passes_and_ships(
    client: TestClient, world: World, session: Session
) -> None:
    parcel = open_parcel(client, world)
    assert parcel["status"] == "packing"
    assert [(ln["sku"], ln["expected"], ln["scanned"]) for ln in parcel["lines"]] == [
        ("MUG", 2, 0),
        ("CABLE", 1, 0),
    ]
    first = scan(client, world, parcel["id"], MUG)
    assert (first["result"], first["ok"], first["remaining"]) == ("accepted", True, 2)
    second = scan(client, world, parcel["id"], MUG_UPC)  # the UPC-A spelling of another label
    assert second["result"] == "accepted"
    last = scan(client, world, parcel["id"], f"]E4{CABLE}")
    assert last["remaining"] == 0
    assert "close the parcel" in last["message"]
    assert close(client, world, parcel["id"]) == {
        "id": parcel["id"],
        "status": "passed",
        "defects": [],
    }
    shipped = client.post(
        f"/parcels/{parcel['id']}/ship",
        json={"tracking_number": "1Z999AA10123456784"},
        headers=world.auth("station"),
    )
    assert shipped.status_code == 200
    assert shipped.json()["status"] == "shipped"
    assert session.exec(select(func.count()).select_from(Defect)).one() == 0


def test_refused_scans_are_caught_defects(
    client: TestClient, world: World, session: Session
) -> None:
    parcel = open_parcel(client, world)
    wrong = scan(client, world, parcel["id"], TEA)
    assert (wrong["result"], wrong["sku"], wrong["ok"]) == ("wrong_item", "TEA", False)
    unknown = scan(client, world, parcel["id"], "NOT-A-PRODUCT")
    assert unknown["result"] == "unknown_code"
    over = scan(client, world, parcel["id"], CABLE_CASE)  # a case of 6 for an order of 1
    assert over["result"] == "over_quantity"
    kinds = session.exec(select(Defect.kind, Defect.stage).order_by(Defect.id)).all()
    assert kinds == [("wrong_item", "caught"), ("wrong_item", "caught"), ("extra_item", "caught")]


def test_missing_units_hold_the_parcel_until_a_supervisor_releases_it(
    client: TestClient, world: World, session: Session
) -> None:
    parcel = open_parcel(client, world)
    scan(client, world, parcel["id"], MUG)
    verdict = close(client, world, parcel["id"])
    assert verdict["status"] == "held"
    assert verdict["defects"] == [
        {"kind": "missing_item", "sku": "MUG", "qty": 1},
        {"kind": "missing_item", "sku": "CABLE", "qty": 1},
    ]
    url = f"/parcels/{parcel['id']}/override"
    assert (
        client.post(url, json={"reason": "  "}, headers=world.auth("supervisor")).status_code == 422
    )
    released = client.post(
        url, json={"reason": "customer asked for a partial"}, headers=world.auth("supervisor")
    )
    assert released.json()["status"] == "passed"
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "parcel.override")).one()
    assert (audit.actor, audit.detail) == (
        "user:supervisor-user",
        {"reason": "customer asked for a partial"},
    )
    again = client.post(url, json={"reason": "again"}, headers=world.auth("supervisor"))
    assert (again.status_code, again.json()["error"]) == (409, "parcel_not_held")


def test_kits_serials_and_lots(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world, order="1002")
    assert {ln["sku"]: ln["expected"] for ln in parcel["lines"]} == {
        "BODY": 1,
        "LID": 1,
        "PHONE": 1,
        "TEA": 1,
    }
    scan(client, world, parcel["id"], BODY)
    expired = scan(client, world, parcel["id"], f"]C101{TEA}17200101\x1d10LOT1")
    assert expired["result"] == "expired_item"
    fresh = scan(client, world, parcel["id"], f"]C101{TEA}17301231\x1d10LOT2")
    assert fresh["result"] == "accepted"
    needs = scan(client, world, parcel["id"], PHONE)
    assert needs["result"] == "serial_needed"
    serial = scan(client, world, parcel["id"], "SN-12345")
    assert (serial["result"], serial["sku"]) == ("accepted", "PHONE")
    verdict = close(client, world, parcel["id"])
    assert verdict == {
        "id": parcel["id"],
        "status": "held",
        "defects": [{"kind": "kit_incomplete", "sku": "LID", "qty": 1}],
    }
    detail = client.get(f"/parcels/{parcel['id']}", headers=world.auth("support")).json()
    assert [s["result"] for s in detail["scans"]] == [
        "accepted",
        "expired_item",
        "accepted",
        "serial_needed",
        "accepted",
    ]
    assert detail["scans"][2]["lot"] == "LOT2"
    assert detail["scans"][4]["serial"] == "SN-12345"
    assert detail["timeline"][0]["event"] == "opened"
    assert detail["timeline"][-1]["event"] in ("closed", "defect")


def test_a_serial_already_shipped_is_a_duplicate(
    client: TestClient, world: World, session: Session
) -> None:
    from tests.factories import make_order

    make_order(session, number="2001", lines=[("PHONE", 1)])
    make_order(session, number="2002", lines=[("PHONE", 1)])
    first = open_parcel(client, world, order="2001")
    assert scan(client, world, first["id"], f"01{PHONE.zfill(14)}21SN-9")["result"] == "accepted"
    second = open_parcel(client, world, order="2002")
    assert (
        scan(client, world, second["id"], f"01{PHONE.zfill(14)}21SN-9")["result"]
        == "duplicate_serial"
    )


def test_damaged_unit_must_be_replaced(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    for code in (MUG, MUG, CABLE):
        scan(client, world, parcel["id"], code)
    flagged = client.post(
        f"/parcels/{parcel['id']}/damaged", json={"sku": "MUG"}, headers=world.auth("station")
    )
    assert flagged.status_code == 200
    assert flagged.json()["remaining"] == 1
    assert scan(client, world, parcel["id"], MUG)["result"] == "accepted"
    assert close(client, world, parcel["id"])["status"] == "passed"


def test_short_ship_passes_with_a_reason(
    client: TestClient, world: World, session: Session
) -> None:
    parcel = open_parcel(client, world)
    scan(client, world, parcel["id"], MUG)
    scan(client, world, parcel["id"], MUG)
    short = client.post(
        f"/parcels/{parcel['id']}/short",
        json={"sku": "CABLE", "qty": 1, "reason": "out of stock"},
        headers=world.auth("station"),
    )
    assert short.status_code == 200
    assert short.json()["lines"][1]["status"] == "short"
    assert close(client, world, parcel["id"])["status"] == "passed"
    assert session.exec(select(Defect.kind, Defect.reason)).all() == [
        ("short_ship", "out of stock")
    ]


@pytest.mark.parametrize(
    ("grams", "status"), [(930, "passed"), (850, "passed"), (935, "held"), (845, "held")]
)
def test_weight_check(client: TestClient, world: World, grams: int, status: str) -> None:
    parcel = open_parcel(client, world)
    for code in (MUG, MUG, CABLE):
        scan(client, world, parcel["id"], code)
    weighed = client.post(
        f"/parcels/{parcel['id']}/weight", json={"grams": grams}, headers=world.auth("station")
    )
    # 2 mugs of 350 g + a 40 g cable + 150 g of packaging = 890 g; tolerance max(5 %, 30 g) = 44 g
    assert weighed.json()["expected_weight_g"] == 890
    assert weighed.json()["within_tolerance"] is (status == "passed")
    verdict = close(client, world, parcel["id"])
    assert verdict["status"] == status


def test_one_live_parcel_per_order(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    resumed = client.post(
        "/parcels", json={"order": "#1001", "packer": "P-001"}, headers=world.auth("station")
    )
    assert (resumed.status_code, resumed.json()["id"]) == (200, parcel["id"])
    elsewhere = client.post(
        "/parcels", json={"order": "1001", "packer": "P-001"}, headers=world.auth("station2")
    )
    assert elsewhere.status_code == 409
    assert elsewhere.json()["error"] == "order_in_progress"
    assert "BENCH-1" in elsewhere.json()["detail"]
    voided = client.post(
        f"/parcels/{parcel['id']}/void",
        json={"reason": "bench broke"},
        headers=world.auth("supervisor"),
    )
    assert voided.json()["status"] == "voided"
    assert open_parcel(client, world, who="station2")["id"] != parcel["id"]


def test_an_order_cannot_change_once_packing_started(client: TestClient, world: World) -> None:
    open_parcel(client, world)
    changed = client.put(
        "/orders/1001", json={"lines": [{"sku": "MUG", "qty": 1}]}, headers=world.auth("admin")
    )
    assert (changed.status_code, changed.json()["error"]) == (409, "order_locked")


def test_a_station_touches_only_its_own_parcels(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    body = {"code": MUG, "event_id": "x-1"}
    other = client.post(f"/parcels/{parcel['id']}/scans", json=body, headers=world.auth("station2"))
    assert (other.status_code, other.json()["error"]) == (403, "not_your_parcel")
    assert client.get(f"/parcels/{parcel['id']}", headers=world.auth("station2")).status_code == 403
    assert client.get(f"/parcels/{parcel['id']}", headers=world.auth("station")).status_code == 200


def test_scans_on_a_closed_parcel_are_refused(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    close(client, world, parcel["id"])
    late = client.post(
        f"/parcels/{parcel['id']}/scans",
        json={"code": MUG, "event_id": "late"},
        headers=world.auth("station"),
    )
    assert (late.status_code, late.json()["error"]) == (409, "parcel_held")


def test_replayed_event_returns_the_first_answer_and_adds_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    parcel = open_parcel(client, world)
    first = scan(client, world, parcel["id"], MUG, event_id="same")
    again = scan(client, world, parcel["id"], MUG, event_id="same")
    assert again == first
    assert session.exec(select(func.count()).select_from(Scan)).one() == 1
    reused = client.post(
        f"/parcels/{parcel['id']}/scans",
        json={"code": CABLE, "event_id": "same"},
        headers=world.auth("station"),
    )
    assert (reused.status_code, reused.json()["error"]) == (409, "event_id_reused")


def test_kit_lid_alone_counts_as_a_component(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world, order="1002")
    assert scan(client, world, parcel["id"], LID)["result"] == "accepted"
