"""Exactly once: replays by event id and by Idempotency-Key, sent one after another and at once.

These tests commit for real (`live_client`), so concurrent requests meet in the database as
they would in production: on SQLite through the write lock, on PostgreSQL through row locks
and unique indexes.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from api.db import session_for
from qc.models import IdempotencyRecord, Parcel, Scan
from tests.factories import CABLE, MUG, World, make_order, make_world

THREADS = 8


@pytest.fixture
def world(live_engine: Engine) -> World:
    with session_for(live_engine, write=True) as session:
        world = make_world(session)
        make_order(session, number="5001", lines=[("MUG", 3)])
        session.commit()
    return world


def count(engine: Engine, model: type, *where: object) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def at_once(n: int, call: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run `call` n times in parallel threads, released together."""
    start = Barrier(n)

    def go() -> httpx.Response:
        start.wait()
        return call()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: go(), range(n)))


def open_parcel(client: TestClient, world: World, order: str = "5001") -> int:
    response = client.post(
        "/parcels", json={"order": order, "packer": "P-001"}, headers=world.auth("station")
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_the_same_scan_sent_at_once_is_recorded_once(
    live_client: TestClient, world: World, live_engine
) -> None:
    parcel = open_parcel(live_client, world)
    body = {"code": MUG, "event_id": "twin-1"}
    responses = at_once(
        THREADS,
        lambda: live_client.post(
            f"/parcels/{parcel}/scans", json=body, headers=world.auth("station")
        ),
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses}) == 1
    assert responses[0].json()["result"] == "accepted"
    assert count(live_engine, Scan) == 1


def test_different_scans_at_once_never_count_beyond_the_order(
    live_client: TestClient, world: World, live_engine
) -> None:
    parcel = open_parcel(live_client, world)  # 3 mugs expected
    events = iter(range(THREADS))
    responses = at_once(
        THREADS,
        lambda: live_client.post(
            f"/parcels/{parcel}/scans",
            json={"code": MUG, "event_id": f"race-{next(events)}"},
            headers=world.auth("station"),
        ),
    )
    results = sorted(r.json()["result"] for r in responses)
    assert results == ["accepted"] * 3 + ["over_quantity"] * (THREADS - 3)
    assert count(live_engine, Scan) == THREADS


def test_two_stations_opening_one_order_at_once(
    live_client: TestClient, world: World, live_engine
) -> None:
    who = iter(["station", "station2"] * (THREADS // 2))
    responses = at_once(
        THREADS,
        lambda: live_client.post(
            "/parcels", json={"order": "5001", "packer": "P-001"}, headers=world.auth(next(who))
        ),
    )
    created = [r for r in responses if r.status_code == 201]
    assert len(created) == 1
    holder = created[0].json()["station"]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"] == "order_in_progress"
            assert holder in response.json()["detail"]
        else:  # the holder's own twins resume its parcel
            assert response.json()["station"] == holder
    assert count(live_engine, Parcel) == 1


def test_idempotency_key_sequential(live_client: TestClient, world: World, live_engine) -> None:
    parcel = open_parcel(live_client, world)
    headers = {**world.auth("station"), "Idempotency-Key": "close-1"}
    first = live_client.post(f"/parcels/{parcel}/close", headers=headers)
    again = live_client.post(f"/parcels/{parcel}/close", headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    without_key = live_client.post(f"/parcels/{parcel}/close", headers=world.auth("station"))
    assert (without_key.status_code, without_key.json()["error"]) == (409, "parcel_held")


def test_idempotency_key_reused_for_another_request_is_refused(
    live_client: TestClient, world: World
) -> None:
    parcel = open_parcel(live_client, world)
    headers = {**world.auth("station"), "Idempotency-Key": "w-1"}
    assert (
        live_client.post(
            f"/parcels/{parcel}/weight", json={"grams": 500}, headers=headers
        ).status_code
        == 200
    )
    other = live_client.post(f"/parcels/{parcel}/weight", json={"grams": 900}, headers=headers)
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_key_reused")


def test_idempotency_keys_belong_to_their_caller(
    live_client: TestClient, world: World, live_engine
) -> None:
    body = {"order": "5001", "packer": "P-001"}
    first = live_client.post(
        "/parcels", json=body, headers={**world.auth("station"), "Idempotency-Key": "k"}
    )
    second = live_client.post(
        "/parcels", json=body, headers={**world.auth("station2"), "Idempotency-Key": "k"}
    )
    assert first.status_code == 201
    assert (second.status_code, second.json()["error"]) == (409, "order_in_progress")
    assert count(live_engine, IdempotencyRecord) == 1  # a refused request stores nothing


def test_the_same_open_sent_at_once_with_a_key(
    live_client: TestClient, world: World, live_engine
) -> None:
    headers = {**world.auth("station"), "Idempotency-Key": "open-5001"}
    responses = at_once(
        THREADS,
        lambda: live_client.post(
            "/parcels", json={"order": "5001", "packer": "P-001"}, headers=headers
        ),
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert count(live_engine, Parcel) == 1
    assert count(live_engine, IdempotencyRecord) == 1


def test_the_same_damaged_flag_sent_at_once_with_a_key(
    live_client: TestClient, world: World, live_engine
) -> None:
    parcel = open_parcel(live_client, world)
    for i in range(2):
        live_client.post(
            f"/parcels/{parcel}/scans",
            json={"code": MUG, "event_id": f"m{i}"},
            headers=world.auth("station"),
        )
    headers = {**world.auth("station"), "Idempotency-Key": "dmg-1"}
    responses = at_once(
        THREADS,
        lambda: live_client.post(
            f"/parcels/{parcel}/damaged", json={"sku": "MUG"}, headers=headers
        ),
    )
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["lines"][0]["damaged"] for r in responses} == {1}


def test_replay_after_close_still_returns_the_first_answer(
    live_client: TestClient, world: World
) -> None:
    parcel = open_parcel(live_client, world)
    body = {"code": CABLE, "event_id": "before-close"}
    first = live_client.post(f"/parcels/{parcel}/scans", json=body, headers=world.auth("station"))
    live_client.post(f"/parcels/{parcel}/close", headers=world.auth("station"))
    again = live_client.post(f"/parcels/{parcel}/scans", json=body, headers=world.auth("station"))
    assert again.status_code == 200
    assert again.json() == first.json()


def test_complaints_by_one_customer_at_once_count_each_other_as_earlier_claims(
    live_client: TestClient, world: World, live_engine: Engine
) -> None:
    """The repeat-claimant flag (the third complaint within 90 days) counts the customer's
    complaints: those recorded at the same instant wait for each other, so exactly two are
    first claims however the requests interleave."""
    parcels = []
    for n in range(6):
        with session_for(live_engine, write=True) as session:
            make_order(session, number=f"R{n}", lines=[("MUG", 1)], customer_ref="CUST-R")
            session.commit()
        parcel = open_parcel(live_client, world, order=f"R{n}")
        station = world.auth("station")
        scan = {"code": MUG, "event_id": f"r-{n}"}
        scanned = live_client.post(f"/parcels/{parcel}/scans", json=scan, headers=station)
        assert scanned.json()["result"] == "accepted", scanned.text
        assert live_client.post(f"/parcels/{parcel}/close", headers=station).status_code == 200
        parcels.append(parcel)
    claims = iter(parcels)
    responses = at_once(
        len(parcels),
        lambda: live_client.post(
            "/complaints", json={"parcel_id": next(claims), "kind": "other"},
            headers=world.auth("support"),
        ),
    )  # fmt: skip
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    flags = sorted(r.json()["repeat_claimant"] for r in responses)
    assert flags == [False, False, True, True, True, True]
