"""Support's lookup: every spelling of every identifier, what a result holds, and who may ask.

Parcel ids come from a sequence that PostgreSQL does not roll back between tests, so a query of
digits may also find a parcel of another order whose id it happens to be: those results are
marked "parcel_id" and set aside (`named`) when a test is about an order number.
"""

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from qc.lookup_keys import lookup_key
from qc.models import Parcel
from tests.api.test_packing import close, open_parcel, scan
from tests.factories import CABLE, MUG, World, make_order, make_world

TRACKING = "1Z999AA10123456784"
SSCC = "106141411234567897"  # GS1's example body, 7 its check digit


@dataclass
class Scene:
    world: World
    voided: dict
    shipped: dict


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def ship(client: TestClient, world: World, parcel_id: int, **body: object) -> dict:
    response = client.post(
        f"/parcels/{parcel_id}/ship",
        json={"tracking_number": TRACKING, **body},
        headers=world.auth("station"),
    )
    assert response.status_code == 200, response.text
    return response.json()


def packed(client: TestClient, world: World, order: str = "1001") -> dict:
    """A parcel of `order` (1001: two mugs and a cable) packed and passed, not shipped."""
    parcel = open_parcel(client, world, order)
    for code in (MUG, MUG, CABLE):
        scan(client, world, parcel["id"], code)
    assert close(client, world, parcel["id"])["status"] == "passed"
    return parcel


@pytest.fixture
def scene(client: TestClient, world: World) -> Scene:
    """Order 1001 (customer CUST-7): a parcel voided at the bench, then one packed and shipped."""
    first = open_parcel(client, world)
    voided = client.post(
        f"/parcels/{first['id']}/void",
        json={"reason": "box torn"},
        headers=world.auth("supervisor"),
    )
    assert voided.status_code == 200, voided.text
    parcel = packed(client, world)
    shipped = ship(client, world, parcel["id"], sscc=f"(00){SSCC}")
    return Scene(world, voided.json(), shipped)


def look(client: TestClient, world: World, q: str, who: str = "support") -> dict:
    response = client.get("/lookup", params={"q": q}, headers=world.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


def named(body: dict, q: str) -> list[dict]:
    """The results not found as a parcel id that merely equals the digits of `q`."""
    key = lookup_key(q)
    return [
        r
        for r in body["results"]
        if not (r["matched"] == "parcel_id" and key.isdigit() and r["parcel_id"] == int(key))
    ]


def result(parcel: dict, matched: str, customer_ref: str | None = "CUST-7") -> dict:
    """What the lookup says of a parcel, from the parcel as the packing API returned it."""
    return {
        "parcel_id": parcel["id"],
        "order": parcel["order"],
        "customer_ref": customer_ref,
        "status": parcel["status"],
        "station": parcel["station"],
        "packer": parcel["packer"],
        "opened_at": parcel["opened_at"],
        "closed_at": parcel["closed_at"],
        "shipped_at": parcel["shipped_at"],
        "tracking_number": parcel["tracking_number"],
        "matched": matched,
    }


@pytest.mark.parametrize(
    "q", ["1001", " 1001 ", "10 01", "#1001", "# 1001", "  #10\t01  ", "\u00a01001\u00a0"]
)
def test_every_spelling_of_an_order_number_lists_all_its_parcels(
    client: TestClient, scene: Scene, q: str
) -> None:
    body = look(client, scene.world, q)
    assert body["q"] == q.strip()
    assert named(body, q) == [
        result(scene.shipped, "order"),
        result(scene.voided, "order"),  # voided, older: listed after, marked by its status
    ]
    assert scene.shipped["status"] == "shipped" and scene.voided["status"] == "voided"


@pytest.mark.parametrize("q", ["so-5501", "SO-5501", "#so- 5501", "# SO - 55 01", " So-5501 "])
def test_order_numbers_with_letters_in_any_case(
    client: TestClient, world: World, session: Session, q: str
) -> None:
    make_order(session, number="SO-5501", lines=[("MUG", 1)], customer_ref="CUST-7")
    assert named(look(client, world, q), q) == [
        {
            "parcel_id": None,
            "order": "SO-5501",
            "customer_ref": "CUST-7",
            "status": None,
            "station": None,
            "packer": None,
            "opened_at": None,
            "closed_at": None,
            "shipped_at": None,
            "tracking_number": None,
            "matched": "order",
        }
    ]


def test_an_order_without_a_parcel_is_one_result_without_one(
    client: TestClient, world: World
) -> None:
    body = look(client, world, "# 1002")
    assert [
        (r["parcel_id"], r["order"], r["status"], r["matched"]) for r in named(body, "1002")
    ] == [(None, "1002", None, "order")]


@pytest.mark.parametrize("q", [TRACKING.lower(), " 1z999aa1 0123 456784 ", "#1Z999AA10123456784"])
def test_tracking_number_in_any_case_and_spacing(client: TestClient, scene: Scene, q: str) -> None:
    assert look(client, scene.world, q)["results"] == [result(scene.shipped, "tracking_number")]


@pytest.mark.parametrize(
    "q", [SSCC, f"(00){SSCC}", f"00{SSCC}", f"(00) {SSCC[:9]} {SSCC[9:]}", f" 00 {SSCC} "]
)
def test_sscc_bare_or_after_its_application_identifier(
    client: TestClient, scene: Scene, session: Session, q: str
) -> None:
    stored = session.exec(select(Parcel.sscc).where(Parcel.id == scene.shipped["id"])).one()
    assert stored == SSCC  # kept as its 18 digits, however the label was sent
    assert look(client, scene.world, q)["results"] == [result(scene.shipped, "sscc")]


def test_parcel_id_with_or_without_hash(client: TestClient, scene: Scene) -> None:
    # A parcel numbered 1001 would be found as its order's number first: take the other one.
    parcel = scene.voided if scene.voided["id"] != 1001 else scene.shipped
    parcel_id = parcel["id"]
    for q in (str(parcel_id), f" #{parcel_id} "):
        body = look(client, scene.world, q)
        by_id = [r for r in body["results"] if r["matched"] == "parcel_id"]
        assert by_id == [result(parcel, "parcel_id")]
        # Anything else is an order whose number is those digits.
        assert all(r["order"] == str(parcel_id) for r in body["results"] if r not in by_id)


def test_customer_reference_with_spaces_finds_every_order_of_the_customer(
    client: TestClient, world: World, session: Session
) -> None:
    make_order(session, number="SO-2001", lines=[("MUG", 2), ("CABLE", 1)], customer_ref="Shop 42")
    make_order(session, number="SO-2002", lines=[("MUG", 1)], customer_ref="shop 42")
    make_order(session, number="SO-2003", lines=[("MUG", 1)], customer_ref="Shop 421")
    parcel = open_parcel(client, world, "SO-2001")  # opened after SO-2002 was created
    for q in ("Shop 42", "shop42", "  S H O P  4 2 ", "#shop 42"):
        body = look(client, world, q)
        assert [(r["order"], r["parcel_id"], r["matched"]) for r in body["results"]] == [
            ("SO-2001", parcel["id"], "customer_ref"),
            ("SO-2002", None, "customer_ref"),
        ]
        assert body["results"][0]["customer_ref"] == "Shop 42"
        assert body["results"][0]["status"] == "packing"


def test_a_replaced_order_is_found_under_its_new_reference_only(
    client: TestClient, world: World
) -> None:
    replaced = client.put(
        "/orders/1002",
        json={"customer_ref": "New Ref 9", "lines": [{"sku": "MUG", "qty": 1}]},
        headers=world.auth("admin"),
    )
    assert replaced.status_code == 200, replaced.text
    assert [r["order"] for r in look(client, world, "newref9")["results"]] == ["1002"]
    assert look(client, world, "CUST-7")["results"][0]["order"] == "1001"
    cleared = client.put(
        "/orders/1002", json={"lines": [{"sku": "MUG", "qty": 1}]}, headers=world.auth("admin")
    )
    assert cleared.status_code == 200
    assert look(client, world, "newref9")["results"] == []


def test_at_most_fifty_results_newest_first(
    client: TestClient, world: World, session: Session
) -> None:
    for n in range(55):
        make_order(session, number=f"BULK-{n:02d}", lines=[("MUG", 1)], customer_ref="Big Shop")
    results = look(client, world, "BIG SHOP")["results"]
    assert [r["order"] for r in results] == [f"BULK-{n:02d}" for n in range(54, 4, -1)]


@pytest.mark.parametrize("q", ["NOPE-404", "99999999999", "#", " # ", "(00)123", "ünïcödé ☃"])
def test_nothing_found_is_an_empty_list(client: TestClient, scene: Scene, q: str) -> None:
    assert look(client, scene.world, q) == {"q": q.strip(), "results": []}


@pytest.mark.parametrize("q", [None, "", "   ", "\t\n", "x" * 129, f" {'x' * 129} ", "10\x0001"])
def test_blank_too_long_or_nul_query_is_invalid(
    client: TestClient, world: World, q: str | None
) -> None:
    params = {} if q is None else {"q": q}
    response = client.get("/lookup", params=params, headers=world.auth("support"))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_query")
    assert response.json()["detail"]


def test_a_query_of_128_characters_after_trimming_is_accepted(
    client: TestClient, world: World
) -> None:
    assert look(client, world, f"  {'x' * 128}  ")["results"] == []


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("support", 200),
        ("manager", 200),
        ("supervisor", 200),
        ("station", 403),
        ("packer", 403),
        ("admin", 403),
        (None, 401),
    ],
)
def test_roles(client: TestClient, world: World, who: str | None, status: int) -> None:
    headers = world.auth(who) if who else {}
    response = client.get("/lookup", params={"q": "1001"}, headers=headers)
    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["error"] == ("role_required" if status == 403 else "missing_key")


@pytest.mark.parametrize(
    "sscc",
    [
        SSCC[:-1] + "0",  # wrong check digit
        f"(00){SSCC[:-1]}3",
        SSCC[:-1],  # 17 digits
        SSCC + "1",  # 19 digits
        f"(01){SSCC}",
        "ABCDEFGHIJKLMNOPQR",
        "",
    ],
)
def test_ship_refuses_a_bad_sscc_and_changes_nothing(
    client: TestClient, world: World, session: Session, sscc: str
) -> None:
    parcel = packed(client, world)
    response = client.post(
        f"/parcels/{parcel['id']}/ship",
        json={"tracking_number": TRACKING, "sscc": sscc},
        headers=world.auth("station"),
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_sscc")
    assert "SSCC" in response.json()["detail"]
    row = session.exec(select(Parcel).where(Parcel.id == parcel["id"])).one()
    session.refresh(row)
    assert (row.status, row.tracking_number, row.tracking_key, row.sscc) == (
        "passed",
        None,
        None,
        None,
    )


def test_ship_without_sscc_keeps_none_and_the_tracking_key(
    client: TestClient, world: World, session: Session
) -> None:
    parcel = packed(client, world)
    ship(client, world, parcel["id"], tracking_number="ab-1234")
    row = session.exec(select(Parcel).where(Parcel.id == parcel["id"])).one()
    session.refresh(row)
    assert (row.tracking_number, row.tracking_key, row.sscc) == ("ab-1234", "AB-1234", None)
    assert [r["parcel_id"] for r in look(client, world, "AB-1234")["results"]] == [parcel["id"]]
