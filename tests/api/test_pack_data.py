"""`GET /parcels/{id}/pack-data`, and the bench answering from it exactly as the server does."""

import itertools
from datetime import date

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from stations.offline import LocalParcel
from tests.api.test_packing import open_parcel
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
    make_order,
    make_world,
)

_ids = itertools.count(1)


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def pack_data(client: TestClient, world: World, parcel_id: int, who: str = "station"):
    return client.get(f"/parcels/{parcel_id}/pack-data", headers=world.auth(who))


def test_a_station_gets_its_parcel_with_the_expected_barcodes(
    client: TestClient, world: World
) -> None:
    parcel = open_parcel(client, world, order="1002")  # a kit (BODY + LID), PHONE, TEA
    answer = pack_data(client, world, parcel["id"])
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["packing"] is True and data["parcel"]["id"] == parcel["id"]
    assert [(ln["sku"], ln["expected"], ln["kit_qty"]) for ln in data["lines"]] == [
        ("BODY", 1, 1), ("LID", 1, 1), ("PHONE", 1, 0), ("TEA", 1, 0)
    ]  # fmt: skip
    barcodes = {(b["sku"], b["requires_serial"]) for b in data["barcodes"]}
    assert barcodes == {("BODY", False), ("LID", False), ("PHONE", True), ("TEA", False)}
    assert all(len(b["code"]) == 14 for b in data["barcodes"])  # stored as GTIN-14
    assert MUG not in {b["code"][-13:] for b in data["barcodes"]}  # not in this order


@pytest.mark.parametrize("who", ["support", "manager", "supervisor", "admin", "packer"])
def test_only_stations_get_pack_data(client: TestClient, world: World, who: str) -> None:
    parcel = open_parcel(client, world)
    answer = pack_data(client, world, parcel["id"], who=who)
    assert (answer.status_code, answer.json()["error"]) == (403, "station_only")


def test_another_stations_parcel_is_refused(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    answer = pack_data(client, world, parcel["id"], who="station2")
    assert (answer.status_code, answer.json()["error"]) == (403, "not_your_parcel")


@pytest.mark.parametrize(("parcel_id", "status"), [(999_999, 404), (0, 422), (2**31, 422)])
def test_bad_parcel_ids(client: TestClient, world: World, parcel_id: int, status: int) -> None:
    assert pack_data(client, world, parcel_id).status_code == status


def test_no_key_is_401(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    assert client.get(f"/parcels/{parcel['id']}/pack-data").status_code == 401


# Codes a bench knows offline: the order's own products (several spellings, a case pack, a
# serial, a lot), and one it cannot know (MUG is in the catalogue but not in order 1002).
CODES = [BODY, LID, PHONE, "SN-0001", "SN-0002", TEA, f"]C1010{TEA[1:]}10LOT7", CABLE, CABLE_CASE,
         MUG_UPC, "not-a-product"]  # fmt: skip


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(CODES), min_size=1, max_size=10))
def test_the_bench_answers_what_the_server_answers(
    client: TestClient, world: World, session: Session, codes: list[str]
) -> None:
    """For the order's own products, the bench's offline answer is the server's, word for word."""
    number = f"P-{next(_ids)}"
    make_order(session, number=number, lines=[("BIN", 1), ("PHONE", 1), ("TEA", 1)])
    session.flush()
    parcel = open_parcel(client, world, order=number)
    local = LocalParcel.from_pack_data(pack_data(client, world, parcel["id"]).json())
    # Free text unique to this example: scanned while a serial is awaited it is the serial, and
    # a serial taken in another parcel (an earlier example's) is what the bench cannot know.
    codes = [code if code[0].isdigit() or code[0] == "]" else f"{code}-{number}" for code in codes]
    for code in codes:
        event_id = f"ev-{next(_ids)}"
        local, mine = local.scan(code, event_id=event_id, today=date.today())
        server = client.post(
            f"/parcels/{parcel['id']}/scans",
            json={"code": code, "source": "scanner", "event_id": event_id},
            headers=world.auth("station"),
        ).json()
        if server["result"] in ("wrong_item",) and mine["result"] == "unknown_code":
            # A product of the catalogue outside the order: the bench cannot know its name,
            # so it refuses it as unknown; both refuse, nothing is counted.
            assert mine["ok"] is server["ok"] is False
            continue
        assert {k: mine[k] for k in ("result", "ok", "sku", "message", "remaining", "lines")} == {
            k: server[k] for k in ("result", "ok", "sku", "message", "remaining", "lines")
        }
