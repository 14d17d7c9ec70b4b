"""PUT/GET products and orders: happy paths, and bad input that gets a 4xx and changes nothing."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from qc.models import Barcode, Order, Product
from tests.factories import MUG, MUG_UPC, World, make_world


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def put_product(client: TestClient, world: World, sku: str, body: dict):
    return client.put(f"/products/{sku}", json=body, headers=world.auth("admin"))


def test_create_then_replace_a_product(client: TestClient, world: World) -> None:
    body = {
        "name": "Teapot",
        "weight_g": 800,
        "barcodes": [{"code": "0012345678905"}, {"code": "TP-1"}],
    }
    created = put_product(client, world, "TEAPOT", body)
    assert created.status_code == 201
    assert created.json()["barcodes"] == [
        {"code": "00012345678905", "pack_qty": 1},  # GS1 codes are kept as GTIN-14
        {"code": "TP-1", "pack_qty": 1},
    ]
    replaced = put_product(client, world, "TEAPOT", {"name": "Teapot, large", "barcodes": []})
    assert replaced.status_code == 200
    assert (replaced.json()["name"], replaced.json()["barcodes"]) == ("Teapot, large", [])
    assert (
        client.get("/products/TEAPOT", headers=world.auth("support")).json()["name"]
        == "Teapot, large"
    )


def test_upc_a_and_its_ean13_spelling_are_one_barcode(client: TestClient, world: World) -> None:
    taken = put_product(
        client, world, "OTHER", {"name": "x", "barcodes": [{"code": "0" + MUG_UPC}]}
    )
    assert (taken.status_code, taken.json()["error"]) == (409, "barcode_taken")
    assert "MUG" in taken.json()["detail"]


def test_kit_lists_components(client: TestClient, world: World) -> None:
    kit = put_product(
        client,
        world,
        "MUG-SET",
        {
            "name": "Two mugs and a cable",
            "components": [{"sku": "MUG", "qty": 2}, {"sku": "CABLE"}],
        },
    )
    assert kit.status_code == 201
    assert kit.json()["is_kit"] is True
    assert kit.json()["components"] == [{"sku": "CABLE", "qty": 1}, {"sku": "MUG", "qty": 2}]


@pytest.mark.parametrize(
    ("sku", "body", "status", "code"),
    [
        ("X", {"name": "x", "barcodes": [{"code": "4006381333932"}]}, 400, "invalid_barcode"),
        (
            "X",
            {"name": "x", "barcodes": [{"code": "TP"}, {"code": "TP"}]},
            400,
            "duplicate_barcode",
        ),
        ("X", {"name": "x", "barcodes": [{"code": MUG}]}, 409, "barcode_taken"),
        ("X", {"name": "x", "components": [{"sku": "NOPE"}]}, 400, "unknown_sku"),
        ("X", {"name": "x", "components": [{"sku": "BIN"}]}, 400, "nested_kit"),
        ("X", {"name": "x", "components": [{"sku": "X"}]}, 400, "invalid_kit"),
        (
            "X",
            {"name": "x", "components": [{"sku": "MUG"}], "barcodes": [{"code": "K-1"}]},
            400,
            "kit_barcode",
        ),
        ("MUG", {"name": "x", "components": [{"sku": "LID"}]}, 200, None),
        ("BODY", {"name": "x", "components": [{"sku": "MUG"}]}, 409, "nested_kit"),
        (
            "X",
            {"name": "x", "requires_serial": True, "barcodes": [{"code": "C", "pack_qty": 6}]},
            400,
            "serial_case_pack",
        ),
        ("X", {"name": ""}, 422, "invalid_request"),
        ("X", {"name": "x", "weight_g": -1}, 422, "invalid_request"),
        ("X", {"name": "x", "barcodes": [{"code": "A", "pack_qty": 0}]}, 422, "invalid_request"),
        ("X", {"name": "x", "colour": "red"}, 422, "invalid_request"),
        (
            "X",
            {"name": "x", "barcodes": [{"code": "12345670", "symbology": "qr"}]},
            422,
            "invalid_request",
        ),
        ("bad sku", {"name": "x"}, 422, "invalid_request"),
        ("-X", {"name": "x"}, 422, "invalid_request"),
    ],
)
def test_bad_products_are_refused_and_change_nothing(
    client: TestClient,
    world: World,
    session: Session,
    sku: str,
    body: dict,
    status: int,
    code: str | None,
) -> None:
    before = (
        session.exec(select(func.count()).select_from(Product)).one(),
        session.exec(select(func.count()).select_from(Barcode)).one(),
    )
    response = put_product(client, world, sku, body)
    assert response.status_code == status, response.text
    if code is None:
        return
    assert response.json()["error"] == code
    assert response.json()["detail"]
    after = (
        session.exec(select(func.count()).select_from(Product)).one(),
        session.exec(select(func.count()).select_from(Barcode)).one(),
    )
    assert after == before


def test_invalid_json_is_a_clear_422(client: TestClient, world: World) -> None:
    response = client.put(
        "/products/X",
        content=b"{not json",
        headers={**world.auth("admin"), "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["error"]) == (422, "invalid_json")


def test_create_replace_and_read_an_order(client: TestClient, world: World) -> None:
    body = {
        "customer_ref": "C-9",
        "lines": [{"sku": "MUG", "qty": 1}, {"sku": "MUG", "qty": 2}, {"sku": "TEA", "qty": 1}],
    }
    created = client.put("/orders/7001", json=body, headers=world.auth("admin"))
    assert created.status_code == 201
    assert created.json()["lines"] == [{"sku": "MUG", "qty": 3}, {"sku": "TEA", "qty": 1}]
    replaced = client.put(
        "/orders/7001", json={"lines": [{"sku": "LID", "qty": 1}]}, headers=world.auth("admin")
    )
    assert replaced.status_code == 200
    got = client.get("/orders/%237001", headers=world.auth("manager"))  # "#7001" as people type it
    assert got.json()["lines"] == [{"sku": "LID", "qty": 1}]
    assert got.json()["customer_ref"] is None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"lines": [{"sku": "NOPE", "qty": 1}, {"sku": "ZZZ", "qty": 1}]}, 400, "unknown_sku"),
        ({"lines": []}, 422, "invalid_request"),
        ({"lines": [{"sku": "MUG", "qty": 0}]}, 422, "invalid_request"),
        ({"lines": [{"sku": "MUG"}]}, 422, "invalid_request"),
        ({"customer_ref": "x" * 200, "lines": [{"sku": "MUG", "qty": 1}]}, 422, "invalid_request"),
    ],
)
def test_bad_orders_are_refused_and_change_nothing(
    client: TestClient, world: World, session: Session, body: dict, status: int, code: str
) -> None:
    before = session.exec(select(func.count()).select_from(Order)).one()
    response = client.put("/orders/7002", json=body, headers=world.auth("admin"))
    assert (response.status_code, response.json()["error"]) == (status, code)
    if code == "unknown_sku":
        assert "NOPE" in response.json()["detail"]
        assert "ZZZ" in response.json()["detail"]
    assert session.exec(select(func.count()).select_from(Order)).one() == before


def test_unknown_things_are_404(client: TestClient, world: World) -> None:
    assert (
        client.get("/products/NOPE", headers=world.auth("admin")).json()["error"]
        == "product_not_found"
    )
    assert (
        client.get("/orders/NOPE", headers=world.auth("admin")).json()["error"] == "order_not_found"
    )
    assert (
        client.get("/parcels/999999", headers=world.auth("support")).json()["error"]
        == "parcel_not_found"
    )
    assert client.get("/nothing-here", headers=world.auth("admin")).json()["error"] == "not_found"


def test_opening_with_unknown_order_or_badge(client: TestClient, world: World) -> None:
    unknown_order = client.post(
        "/parcels", json={"order": "]C0NOPE", "packer": "P-001"}, headers=world.auth("station")
    )
    assert (unknown_order.status_code, unknown_order.json()["error"]) == (404, "order_not_found")
    assert "NOPE" in unknown_order.json()["detail"]
    unknown_badge = client.post(
        "/parcels", json={"order": "1001", "packer": "P-999"}, headers=world.auth("station")
    )
    assert (unknown_badge.status_code, unknown_badge.json()["error"]) == (404, "unknown_badge")


def test_nul_characters_are_refused_on_every_engine(client: TestClient, world: World) -> None:
    named = client.put("/products/X", json={"name": "a\x00b"}, headers=world.auth("admin"))
    assert (named.status_code, named.json()["error"]) == (422, "invalid_request")
    looked_up = client.get("/orders/%00", headers=world.auth("admin"))
    assert (looked_up.status_code, looked_up.json()["error"]) == (404, "order_not_found")
    scanned = client.post(
        "/parcels", json={"order": "1001\x00", "packer": "P-001"}, headers=world.auth("station")
    )
    assert scanned.status_code == 422
