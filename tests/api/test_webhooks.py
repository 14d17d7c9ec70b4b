"""Webhooks through the API: admins configure endpoints, parcels queue events in their own
transaction, the delivery log is read and filtered. Sending is in test_webhook_delivery.py."""

import json
import threading

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from qc import parcels
from qc.identity import authenticate
from qc.models import AuditEvent, Parcel, WebhookDelivery, WebhookEndpoint, WebhookEvent
from qc.verification import WeightPolicy
from qc.webhooks import emit
from tests.api.test_packing import close, open_parcel, scan
from tests.factories import MUG, World, make_world

SECRET = "a-secret-of-24-characters"
HOOK = {"url": "https://shop.example/hooks/qc", "secret": SECRET}


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def add_endpoint(client: TestClient, world: World, **body: object) -> dict:
    response = client.post("/webhooks", json={**HOOK, **body}, headers=world.auth("admin"))
    assert response.status_code == 201, response.text
    return response.json()


def count(session: Session, table: type) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def events(session: Session) -> list[WebhookEvent]:
    return list(session.exec(select(WebhookEvent).order_by(col(WebhookEvent.id))).all())


def ship(client: TestClient, world: World, parcel_id: int, tracking: str = "1Z999AA10123456784"):
    response = client.post(
        f"/parcels/{parcel_id}/ship",
        json={"tracking_number": tracking},
        headers=world.auth("station"),
    )
    assert response.status_code == 200, response.text
    return response.json()


def short_shipped_parcel(client: TestClient, world: World) -> int:
    """Order 1001 (2 MUG, 1 CABLE, customer CUST-7) packed without its cable, and shipped."""
    parcel = open_parcel(client, world)
    scan(client, world, parcel["id"], MUG)
    scan(client, world, parcel["id"], MUG)
    short = client.post(
        f"/parcels/{parcel['id']}/short",
        json={"sku": "CABLE", "qty": 1, "reason": "out of stock"},
        headers=world.auth("station"),
    )
    assert short.status_code == 200, short.text
    assert close(client, world, parcel["id"])["status"] == "passed"
    ship(client, world, parcel["id"])
    return parcel["id"]


# --- endpoints -------------------------------------------------------------------------------


def test_an_admin_adds_lists_changes_and_deactivates_an_endpoint(
    client: TestClient, world: World, session: Session
) -> None:
    created = add_endpoint(
        client, world, events=["parcel.held", "parcel.short_shipped", "parcel.held"]
    )
    assert set(created) == {"id", "url", "events", "active", "created_at"}  # never the secret
    assert (created["url"], created["events"], created["active"]) == (
        HOOK["url"],
        ["parcel.held", "parcel.short_shipped"],
        True,
    )
    listed = client.get("/webhooks", headers=world.auth("admin"))
    assert listed.status_code == 200
    assert listed.json() == {"rows": [created]}
    assert SECRET not in listed.text

    url = f"/webhooks/{created['id']}"
    patched = client.patch(
        url,
        json={"url": "http://10.0.0.5:8080/in", "secret": "another-secret-16ch", "events": []},
        headers=world.auth("admin"),
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["url"], patched.json()["events"]) == ("http://10.0.0.5:8080/in", [])
    endpoint = session.get(WebhookEndpoint, created["id"])
    assert endpoint is not None and endpoint.secret == "another-secret-16ch"

    deleted = client.delete(url, headers=world.auth("admin"))
    assert deleted.status_code == 200
    assert deleted.json()["active"] is False
    emit(session, "parcel.held", {"parcel_id": 1})
    assert count(session, WebhookDelivery) == 0  # an inactive endpoint gets nothing new

    audit = session.exec(
        select(AuditEvent)
        .where(AuditEvent.object_type == "webhook_endpoint")
        .order_by(col(AuditEvent.id))
    ).all()
    assert [a.action for a in audit] == ["webhook.create", "webhook.update", "webhook.deactivate"]
    assert {a.actor for a in audit} == {"user:admin-user"}
    assert audit[1].detail == {"changed": ["events", "secret", "url"]}
    assert all(SECRET not in json.dumps(a.detail) for a in audit)
    assert "another-secret" not in json.dumps([a.detail for a in audit])


def test_creating_an_endpoint_is_idempotent_with_a_key(
    client: TestClient, world: World, session: Session
) -> None:
    headers = {**world.auth("admin"), "Idempotency-Key": "hook-1"}
    first = client.post("/webhooks", json=HOOK, headers=headers)
    again = client.post("/webhooks", json=HOOK, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(session, WebhookEndpoint) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "ftp://shop.example/hooks"}, "invalid_url"),
        ({"url": "shop.example/hooks"}, "invalid_url"),
        ({"url": "http://"}, "invalid_url"),
        ({"url": "https://shop example/hooks"}, "invalid_url"),
        ({"url": "javascript:alert(1)"}, "invalid_url"),
        ({"url": "http://shop.example:port/"}, "invalid_url"),
        ({"url": "https://shop.example/" + "x" * 2000}, "invalid_url"),
        ({"secret": "too-short"}, "invalid_secret"),
        ({"secret": "s" * 201}, "invalid_secret"),
        ({"events": ["parcel.held", "parcel.exploded"]}, "unknown_event_type"),
    ],
)
def test_bad_endpoints_are_refused_and_nothing_is_stored(
    client: TestClient, world: World, session: Session, body: dict, code: str
) -> None:
    response = client.post("/webhooks", json={**HOOK, **body}, headers=world.auth("admin"))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert count(session, WebhookEndpoint) == 0


@pytest.mark.parametrize(
    "body", [{"url": HOOK["url"]}, {**HOOK, "colour": "red"}, {**HOOK, "events": "parcel.held"}]
)
def test_malformed_endpoint_payloads_are_422(
    client: TestClient, world: World, session: Session, body: dict
) -> None:
    response = client.post("/webhooks", json=body, headers=world.auth("admin"))
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert count(session, WebhookEndpoint) == 0


def test_a_bad_change_changes_nothing(client: TestClient, world: World, session: Session) -> None:
    created = add_endpoint(client, world)
    url = f"/webhooks/{created['id']}"
    for body, code in [
        ({"url": "file:///etc/passwd", "active": False}, "invalid_url"),
        ({"secret": "short", "url": "https://other.example/"}, "invalid_secret"),
        ({"events": ["complaint.created", "nope"]}, "unknown_event_type"),
    ]:
        response = client.patch(url, json=body, headers=world.auth("admin"))
        assert (response.status_code, response.json()["error"]) == (400, code)
    assert client.get("/webhooks", headers=world.auth("admin")).json()["rows"] == [created]
    endpoint = session.get(WebhookEndpoint, created["id"])
    assert endpoint is not None and endpoint.secret == SECRET


def test_unknown_ids_are_404_with_a_code(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    for method, path, body, code in [
        ("PATCH", "/webhooks/987654", {"active": False}, "webhook_not_found"),
        ("DELETE", "/webhooks/987654", None, "webhook_not_found"),
        ("GET", "/webhooks/deliveries/987654", None, "delivery_not_found"),
        ("POST", "/webhooks/deliveries/987654/replay", None, "delivery_not_found"),
    ]:
        response = client.request(method, path, json=body, headers=admin)
        assert (response.status_code, response.json()["error"]) == (404, code), (method, path)


ENDPOINTS = [
    ("POST", "/webhooks", HOOK),
    ("GET", "/webhooks", None),
    ("PATCH", "/webhooks/1", {"active": False}),
    ("DELETE", "/webhooks/1", None),
    ("GET", "/webhooks/deliveries", None),
    ("GET", "/webhooks/deliveries/1", None),
    ("POST", "/webhooks/deliveries/1/replay", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_only_admins_may_touch_webhooks(
    client: TestClient, world: World, session: Session, method: str, path: str, body: dict | None
) -> None:
    anonymous = client.request(method, path, json=body)
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "missing_key")
    for who in ("support", "manager", "supervisor", "packer", "station"):
        refused = client.request(method, path, json=body, headers=world.auth(who))
        assert refused.status_code == 403, (who, refused.text)
        assert refused.json()["error"] in ("role_required", "station_only")
    assert count(session, WebhookEndpoint) == 0
    assert not session.exec(
        select(AuditEvent).where(col(AuditEvent.action).startswith("webhook."))
    ).all()


# --- events queued by parcels ----------------------------------------------------------------


def test_closing_a_held_parcel_queues_parcel_held(
    client: TestClient, world: World, session: Session
) -> None:
    endpoint = add_endpoint(client, world)
    parcel = open_parcel(client, world)
    scan(client, world, parcel["id"], MUG)
    assert close(client, world, parcel["id"])["status"] == "held"
    (event,) = events(session)
    closed = session.get(Parcel, parcel["id"])
    assert closed is not None and closed.closed_at is not None
    assert event.type == "parcel.held"
    assert event.payload == {
        "parcel_id": parcel["id"],
        "order": "1001",
        "customer_ref": "CUST-7",
        "station": "BENCH-1",
        "packer": "packer-user",
        "closed_at": closed.closed_at.isoformat(),
        "defects": [
            {"kind": "missing_item", "sku": "MUG", "qty": 1},
            {"kind": "missing_item", "sku": "CABLE", "qty": 1},
        ],
    }
    (delivery,) = session.exec(select(WebhookDelivery)).all()
    assert (delivery.event_id, delivery.endpoint_id, delivery.status, delivery.attempts) == (
        event.id,
        endpoint["id"],
        "pending",
        0,
    )


def test_shipping_a_short_parcel_tells_the_shop_what_is_missing(
    client: TestClient, world: World, session: Session
) -> None:
    add_endpoint(client, world)
    parcel_id = short_shipped_parcel(client, world)
    shipped, short = events(session)  # nothing at close: the parcel passed
    parcel = session.get(Parcel, parcel_id)
    assert parcel is not None and parcel.shipped_at is not None
    assert shipped.type == "parcel.shipped"
    assert shipped.payload == {
        "parcel_id": parcel_id,
        "order": "1001",
        "customer_ref": "CUST-7",
        "tracking_number": "1Z999AA10123456784",
        "sscc": None,
        "shipped_at": parcel.shipped_at.isoformat(),
    }
    assert short.type == "parcel.short_shipped"
    assert short.payload == {
        "parcel_id": parcel_id,
        "order": "1001",
        "customer_ref": "CUST-7",
        "tracking_number": "1Z999AA10123456784",
        "shipped_at": parcel.shipped_at.isoformat(),
        "missing": [{"sku": "CABLE", "name": "Product CABLE", "qty": 1, "reason": "out of stock"}],
    }
    assert count(session, WebhookDelivery) == 2


def test_a_complete_parcel_ships_without_short_shipped(
    client: TestClient, world: World, session: Session
) -> None:
    parcel = open_parcel(client, world)
    for code in (MUG, MUG, "96385074"):
        scan(client, world, parcel["id"], code)
    assert close(client, world, parcel["id"])["status"] == "passed"
    ship(client, world, parcel["id"])
    assert [e.type for e in events(session)] == ["parcel.shipped"]
    assert count(session, WebhookDelivery) == 0  # the outbox keeps it; no endpoint, no delivery


def test_an_endpoint_gets_only_the_types_it_asked_for(
    client: TestClient, world: World, session: Session
) -> None:
    wants_short = add_endpoint(client, world, events=["parcel.short_shipped"])
    wants_all = add_endpoint(client, world, url="https://erp.example/in")
    short_shipped_parcel(client, world)
    rows = session.exec(
        select(WebhookEvent.type, WebhookDelivery.endpoint_id)
        .join(WebhookEvent, col(WebhookDelivery.event_id) == WebhookEvent.id)
        .order_by(col(WebhookDelivery.id))
    ).all()
    assert rows == [
        ("parcel.shipped", wants_all["id"]),
        ("parcel.short_shipped", wants_short["id"]),
        ("parcel.short_shipped", wants_all["id"]),
    ]


def test_a_change_that_rolls_back_leaves_no_event(session: Session, world: World) -> None:
    session.add(WebhookEndpoint(url="https://shop.example/in", secret=SECRET))
    station = authenticate(session=session, key=world.keys["station"])
    opened, _ = parcels.open_parcel(
        session=session, station=station, order_code="1001", packer_badge="P-001"
    )

    def close_then_fail() -> None:
        with session.begin_nested():  # what api.db does for a request: one transaction
            verdict = parcels.close_parcel(
                session=session, parcel_id=opened.id, station=station, policy=WeightPolicy()
            )
            assert verdict.status == "held"
            assert count(session, WebhookEvent) == count(session, WebhookDelivery) == 1
            raise RuntimeError("the request failed after the change")

    with pytest.raises(RuntimeError, match="after the change"):
        close_then_fail()
    assert count(session, WebhookEvent) == count(session, WebhookDelivery) == 0
    parcel = session.get(Parcel, opened.id, populate_existing=True)
    assert parcel is not None and parcel.status == "packing"


def test_closing_twice_queues_nothing_more(
    client: TestClient, world: World, session: Session
) -> None:
    add_endpoint(client, world)
    parcel = open_parcel(client, world)
    assert close(client, world, parcel["id"])["status"] == "held"
    refused = client.post(f"/parcels/{parcel['id']}/close", headers=world.auth("station"))
    assert refused.status_code == 409  # closing twice queues nothing more
    assert [e.type for e in events(session)] == ["parcel.held"]


# --- the delivery log ------------------------------------------------------------------------


def test_the_delivery_log_filters_and_pages(
    client: TestClient, world: World, session: Session
) -> None:
    shop = add_endpoint(client, world)
    erp = add_endpoint(client, world, url="https://erp.example/in", events=["complaint.created"])
    emit(session, "parcel.held", {"parcel_id": 1})
    complaint = emit(session, "complaint.created", {"id": 9})
    dead = session.exec(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == erp["id"])
    ).one()
    dead.status, dead.attempts, dead.last_status, dead.last_error = "dead", 10, 500, "HTTP 500"
    session.add(dead)
    session.flush()
    admin = world.auth("admin")

    everything = client.get("/webhooks/deliveries", headers=admin).json()
    assert everything["total"] == 3
    assert [(r["type"], r["endpoint_id"]) for r in everything["rows"]] == [
        ("complaint.created", erp["id"]),
        ("complaint.created", shop["id"]),
        ("parcel.held", shop["id"]),
    ]
    for query, expected in [
        ("status=dead", [dead.id]),
        ("status=pending&type=complaint.created", [everything["rows"][1]["id"]]),
        (f"endpoint_id={shop['id']}&limit=1&offset=1", [everything["rows"][2]["id"]]),
        ("type=parcel.shipped", []),
    ]:
        page = client.get(f"/webhooks/deliveries?{query}", headers=admin)
        assert page.status_code == 200, page.text
        assert [r["id"] for r in page.json()["rows"]] == expected, query
    assert (
        client.get(f"/webhooks/deliveries?endpoint_id={shop['id']}&limit=1", headers=admin).json()[
            "total"
        ]
        == 2
    )

    detail = client.get(f"/webhooks/deliveries/{dead.id}", headers=admin).json()
    assert (detail["status"], detail["attempts"], detail["last_error"], detail["url"]) == (
        "dead",
        10,
        "HTTP 500",
        "https://erp.example/in",
    )
    assert detail["event"] == {
        "id": complaint.event_id,
        "type": "complaint.created",
        "created_at": complaint.created_at.isoformat(),
        "data": {"id": 9},
    }
    assert detail["event_id"] == complaint.event_id
    assert detail["attempt_log"] == []


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("type=parcel.exploded", 400, "unknown_event_type"),
        ("status=lost", 422, "invalid_request"),
        ("limit=0", 422, "invalid_request"),
        ("limit=201", 422, "invalid_request"),
        ("offset=-1", 422, "invalid_request"),
        ("endpoint_id=0", 422, "invalid_request"),
    ],
)
def test_bad_delivery_filters(
    client: TestClient, world: World, query: str, status: int, code: str
) -> None:
    response = client.get(f"/webhooks/deliveries?{query}", headers=world.auth("admin"))
    assert (response.status_code, response.json()["error"]) == (status, code)


def test_replay_makes_a_dead_delivery_due_now_and_is_audited(
    client: TestClient, world: World, session: Session
) -> None:
    add_endpoint(client, world)
    emit(session, "parcel.held", {"parcel_id": 1})
    delivery = session.exec(select(WebhookDelivery)).one()
    delivery.status, delivery.attempts, delivery.last_error = "dead", 10, "HTTP 500"
    session.add(delivery)
    session.flush()
    replayed = client.post(
        f"/webhooks/deliveries/{delivery.id}/replay", headers=world.auth("admin")
    )
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["status"], replayed.json()["attempts"]) == ("pending", 0)
    session.refresh(delivery)
    assert (delivery.status, delivery.lease_until) == ("pending", None)
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "webhook.replay")).one()
    assert (audit.actor, audit.object_type, audit.object_id, audit.detail) == (
        "user:admin-user",
        "webhook_delivery",
        str(delivery.id),
        {"previous_status": "dead"},
    )


def test_the_test_client_runs_no_deliverer(client: TestClient) -> None:
    assert client.app.state.webhook_delivery is False  # type: ignore[attr-defined]
    assert not any(t.name == "qc-webhooks" for t in threading.enumerate())
