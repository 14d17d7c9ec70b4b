"""Who may call what: the expected status of every route for every caller, pinned."""

from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from qc import parcels
from qc.identity import authenticate, revoke_user
from qc.scanning import record_scan
from qc.schemas import ScanIn
from qc.verification import WeightPolicy
from tests.factories import MUG, World, make_order, make_world

CALLERS = [
    "anonymous",
    "station",
    "station2",
    "packer",
    "supervisor",
    "manager",
    "support",
    "admin",
]
TODAY = date(2026, 11, 22)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    allowed: dict[str, int]
    body: dict | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


READERS = {"supervisor": 200, "manager": 200, "support": 200, "admin": 200}
OWN_STATION = {"station": 200}
ANY_KEY = {c: 200 for c in CALLERS if c != "anonymous"}

ROUTES = [
    Route("GET", "/me", ANY_KEY),
    Route(
        "PUT", "/products/NEW-1", {"admin": 201}, {"name": "New", "barcodes": [{"code": "NEW-1"}]}
    ),
    Route("GET", "/products/MUG", READERS),
    Route("PUT", "/orders/9001", {"admin": 201}, {"lines": [{"sku": "MUG", "qty": 1}]}),
    Route("GET", "/orders/1001", READERS),
    Route(
        "POST", "/parcels", {"station": 201, "station2": 201}, {"order": "1002", "packer": "P-001"}
    ),
    Route("POST", "/parcels/{packing}/scans", OWN_STATION, {"code": MUG, "event_id": "r-1"}),
    Route("POST", "/parcels/{packing}/damaged", OWN_STATION, {"sku": "MUG"}),
    Route(
        "POST",
        "/parcels/{packing}/short",
        OWN_STATION,
        {"sku": "CABLE", "qty": 1, "reason": "none left"},
    ),
    Route("POST", "/parcels/{packing}/weight", OWN_STATION, {"grams": 500}),
    Route("POST", "/parcels/{packing}/close", OWN_STATION),
    Route("POST", "/parcels/{held}/override", {"supervisor": 200}, {"reason": "checked by hand"}),
    Route("POST", "/parcels/{packing}/void", {"supervisor": 200}, {"reason": "bench broke"}),
    Route("POST", "/parcels/{passed}/ship", OWN_STATION, {"tracking_number": "TRACK-0001"}),
    Route(
        "GET",
        "/parcels/{packing}",
        {"station": 200, "supervisor": 200, "manager": 200, "support": 200},
    ),
]


def expected_status(route: Route, caller: str) -> int:
    if caller == "anonymous":
        return 401
    return route.allowed.get(caller, 403)


@pytest.fixture
def setup(session: Session) -> tuple[World, dict[str, int]]:
    world = make_world(session)
    station = authenticate(session=session, key=world.keys["station"])
    make_order(session, number="3001", lines=[("MUG", 2)])
    make_order(session, number="3002", lines=[("MUG", 1)])
    ids = {}
    for name, number, scans in (("packing", "1001", 1), ("held", "3001", 0), ("passed", "3002", 1)):
        parcel, _ = parcels.open_parcel(
            session=session, station=station, order_code=number, packer_badge="P-001"
        )
        for i in range(scans):
            data = ScanIn(code=MUG, event_id=f"setup-{name}-{i}")
            record_scan(
                session=session, parcel_id=parcel.id, station=station, data=data, today=TODAY
            )
        if name != "packing":
            parcels.close_parcel(
                session=session, parcel_id=parcel.id, station=station, policy=WeightPolicy()
            )
        ids[name] = parcel.id
    session.flush()
    return world, ids


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_route_status_for_caller(client: TestClient, setup, route: Route, caller: str) -> None:
    world, ids = setup
    headers = {} if caller == "anonymous" else world.auth(caller)
    path = route.path.format(**ids)
    response = client.request(route.method, path, json=route.body, headers=headers)
    assert response.status_code == expected_status(route, caller), response.text
    if response.status_code >= 400:
        assert set(response.json()) >= {"error", "detail"}


def test_health_is_open_to_everyone(client: TestClient) -> None:
    response = client.get("http://testserver/health")
    assert response.json() == {"status": "ok", "database": "ok"}


def test_a_revoked_key_is_refused(client: TestClient, setup, session: Session) -> None:
    world, _ = setup
    assert client.get("/me", headers=world.auth("support")).status_code == 200
    revoke_user(session=session, name="support-user")
    session.flush()
    refused = client.get("/me", headers=world.auth("support"))
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_key")


@pytest.mark.parametrize("header", ["Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "qc_abc"])
def test_malformed_or_unknown_credentials_are_401(client: TestClient, header: str) -> None:
    response = client.get("/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_me_says_who_the_key_belongs_to(client: TestClient, setup) -> None:
    world, _ = setup
    assert client.get("/me", headers=world.auth("station")).json() == {
        "kind": "station",
        "name": "BENCH-1",
        "role": None,
    }
    assert client.get("/me", headers=world.auth("manager")).json()["role"] == "manager"


def test_checked_keys_are_trusted_for_a_few_seconds(session: Session, monkeypatch) -> None:
    from api.deps import KeyCache

    world = make_world(session)
    principal = authenticate(session=session, key=world.keys["support"])
    clock = [1000.0]
    monkeypatch.setattr("api.deps.time.monotonic", lambda: clock[0])
    cache = KeyCache(ttl=10, size=2)
    cache.put(world.keys["support"], principal)
    assert cache.get(world.keys["support"]) == principal
    assert cache.get(world.keys["admin"]) is None
    clock[0] += 10.5
    assert cache.get(world.keys["support"]) is None  # a revocation is seen within the TTL
    cache.put("a", principal)
    cache.put("b", principal)
    cache.put("c", principal)  # full: it starts over rather than grow without bound
    assert (cache.get("a"), cache.get("c")) == (None, principal)
    assert KeyCache(ttl=0).get("a") is None
