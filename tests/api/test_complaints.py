"""Complaints through the API: escaped defects reaching the statistics, overrides, repeat
claimants, photo evidence, resolving, listing, roles, bad inputs, and the parcel's story."""

import itertools
import uuid
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, col, func, select, update

from qc.models import (
    AuditEvent,
    Complaint,
    Defect,
    Override,
    Parcel,
    Photo,
    WebhookEvent,
    utcnow,
)
from qc.rollup_rebuild import differences
from tests.api.test_packing import close, open_parcel, scan
from tests.factories import CABLE, MUG, PHONE, World, make_order, make_world

UTC_ZONE = ZoneInfo("UTC")
_numbers = itertools.count(1)


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def ship(client: TestClient, world: World, parcel_id: int, tracking: str | None = None) -> str:
    tracking = tracking or f"TRK-{parcel_id}-{next(_numbers)}"
    answer = client.post(f"/parcels/{parcel_id}/ship", json={"tracking_number": tracking},
                         headers=world.auth("station"))  # fmt: skip
    assert answer.status_code == 200, answer.text
    return tracking


def packed(
    client: TestClient,
    world: World,
    session: Session,
    *,
    lines: tuple[tuple[str, int], ...] = (("MUG", 1),),
    codes: tuple[str, ...] = (MUG,),
    customer_ref: str | None = None,
    shipped: bool = True,
) -> int:
    """A new order packed with `codes`, closed, and shipped unless told otherwise."""
    number = f"C{next(_numbers)}"
    make_order(session, number=number, lines=list(lines), customer_ref=customer_ref)
    session.flush()
    parcel_id = int(open_parcel(client, world, order=number)["id"])
    for code in codes:
        scan(client, world, parcel_id, code)
    if close(client, world, parcel_id)["status"] == "passed" and shipped:
        ship(client, world, parcel_id)
    return parcel_id


def complain(
    client: TestClient, world: World, body: dict[str, Any], who: str = "support", **headers: str
) -> Response:
    return client.post("/complaints", json=body, headers={**world.auth(who), **headers})


def created(client: TestClient, world: World, body: dict[str, Any]) -> dict[str, Any]:
    answer = complain(client, world, body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def count(session: Session, model: Any, *where: Any) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def summary(client: TestClient, world: World) -> dict[str, Any]:
    answer = client.get("/stats/summary", headers=world.auth("manager"))
    assert answer.status_code == 200, answer.text
    return answer.json()["current"]


def add_photo(
    session: Session, parcel_id: int, skus: list[str], *, confirmed: bool = True, purged=False
) -> None:
    station_id = session.exec(select(Parcel.station_id).where(Parcel.id == parcel_id)).one()
    codes = [
        {
            "text": f"code-{sku}",
            "format": "EAN13",
            "gtin": f"0{MUG}",
            "sku": sku,
            "expected": True,
            "confirmed": confirmed,
            "order_slip": False,
        }
        for sku in skus
    ]
    digest = uuid.uuid4().hex * 2
    session.add(Photo(parcel_id=parcel_id, station_id=station_id, upload_sha256=digest,
                      sha256=digest, thumb_sha256=digest[::-1], width=800, height=600,
                      size_bytes=1000, sharpness=120.0, brightness=110.0, codes=codes,
                      purged_at=utcnow() if purged else None))  # fmt: skip
    session.flush()


# -- what a complaint does -------------------------------------------------------------------


def test_a_complaint_on_a_parcel_that_passed_is_an_escaped_defect_in_the_statistics(
    client: TestClient, world: World, session: Session
) -> None:
    first = open_parcel(client, world)  # order 1001: 2 MUG, 1 CABLE, customer CUST-7
    for code in (MUG, MUG, CABLE):
        scan(client, world, first["id"], code)
    assert close(client, world, first["id"])["status"] == "passed"
    ship(client, world, first["id"])
    packed(client, world, session)  # a second shipped parcel, no complaint
    before = summary(client, world)
    assert (before["parcels_shipped"], before["defects_escaped"]) == (2, 0)

    body = created(client, world, {"order": "#1001", "kind": "missing", "sku": "MUG",
                                   "note": "only one mug in the box"})  # fmt: skip

    assert body == {
        "id": body["id"], "parcel_id": first["id"], "order": "1001", "customer_ref": "CUST-7",
        "kind": "missing", "sku": "MUG", "qty": 1, "note": "only one mug in the box",
        "status": "open", "resolution": None, "resolution_note": None, "override_id": None,
        "escaped_defects": [{"kind": "missing_item", "sku": "MUG", "qty": 1}],
        "repeat_claimant": False, "evidence_available": False, "created_by": "support-user",
        "created_at": body["created_at"], "resolved_by": None, "resolved_at": None,
    }  # fmt: skip
    defect = session.exec(select(Defect).where(Defect.complaint_id == body["id"])).one()
    assert (defect.parcel_id, defect.kind, defect.stage, defect.qty) == (
        first["id"], "missing_item", "escaped", 1
    )  # fmt: skip
    after = summary(client, world)
    assert (after["defects_escaped"], after["escaped_rate"]) == (1, 0.5)
    assert after["parcels_closed"] == before["parcels_closed"]
    assert differences(session, UTC_ZONE) == []
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "complaint.create")).one()
    assert (audit.actor, audit.object_type, audit.object_id) == (
        "user:support-user", "complaint", str(body["id"])
    )  # fmt: skip
    assert audit.ip is not None
    event = session.exec(select(WebhookEvent).where(WebhookEvent.type == "complaint.created")).one()
    assert event.payload == body


def test_a_complaint_on_an_overridden_parcel_links_the_override_and_adds_no_defect(
    client: TestClient, world: World, session: Session
) -> None:
    parcel_id = packed(client, world, session, lines=(("MUG", 2),), codes=(MUG,))  # held
    released = client.post(f"/parcels/{parcel_id}/override", json={"reason": "one is enough"},
                            headers=world.auth("supervisor"))  # fmt: skip
    assert released.status_code == 200
    ship(client, world, parcel_id)
    override_id = session.exec(select(Override.id).where(Override.parcel_id == parcel_id)).one()
    escaped_before = count(session, Defect, Defect.stage == "escaped")

    body = created(client, world, {"parcel_id": parcel_id, "kind": "missing", "sku": "MUG"})

    assert (body["override_id"], body["escaped_defects"]) == (override_id, [])
    assert count(session, Defect, Defect.stage == "escaped") == escaped_before
    assert summary(client, world)["defects_escaped"] == 0
    assert differences(session, UTC_ZONE) == []


@pytest.mark.parametrize(
    ("kind", "defects"),
    [
        ("missing", [{"kind": "missing_item", "sku": "MUG", "qty": 2}]),
        ("wrong", [{"kind": "wrong_item", "sku": "MUG", "qty": 2}]),
        ("damaged", [{"kind": "damaged_item", "sku": "MUG", "qty": 2}]),
        ("extra", [{"kind": "extra_item", "sku": "MUG", "qty": 2}]),
        ("other", []),
    ],
)
def test_each_kind_becomes_its_defect(
    client: TestClient, world: World, session: Session, kind: str, defects: list
) -> None:
    parcel_id = packed(client, world, session, lines=(("MUG", 2),), codes=(MUG, MUG))
    body = created(client, world, {"parcel_id": parcel_id, "kind": kind, "sku": "MUG", "qty": 2})
    assert body["escaped_defects"] == defects
    assert summary(client, world)["defects_escaped"] == (2 if defects else 0)
    assert differences(session, UTC_ZONE) == []


def test_a_complaint_without_a_sku_is_counted_without_one(
    client: TestClient, world: World, session: Session
) -> None:
    parcel_id = packed(client, world, session)
    body = created(client, world, {"parcel_id": parcel_id, "kind": "damaged"})
    assert (body["sku"], body["escaped_defects"]) == (
        None, [{"kind": "damaged_item", "sku": None, "qty": 1}]
    )  # fmt: skip
    assert differences(session, UTC_ZONE) == []


# -- which parcel ----------------------------------------------------------------------------


def test_an_order_means_its_shipped_parcel_else_its_last_closed_one(
    client: TestClient, world: World, session: Session
) -> None:
    make_order(session, number="7001", lines=[("MUG", 2)])
    session.flush()
    voided = open_parcel(client, world, order="7001")["id"]
    scan(client, world, voided, MUG)
    assert close(client, world, voided)["status"] == "held"
    assert client.post(f"/parcels/{voided}/void", json={"reason": "redo"},
                       headers=world.auth("supervisor")).status_code == 200  # fmt: skip
    refused = complain(client, world, {"order": "7001", "kind": "other"})
    assert (refused.status_code, refused.json()["error"]) == (404, "parcel_not_found")
    again = open_parcel(client, world, order="7001")["id"]
    packing = complain(client, world, {"order": "7001", "kind": "other"})
    assert (packing.status_code, packing.json()["error"]) == (409, "parcel_not_closed")
    scan(client, world, again, MUG)
    scan(client, world, again, MUG)
    assert close(client, world, again)["status"] == "passed"
    assert created(client, world, {"order": "7001", "kind": "other"})["parcel_id"] == again
    tracking = ship(client, world, again)
    by_all = {"order": " 7001 ", "tracking_number": tracking, "parcel_id": again, "kind": "other"}
    assert created(client, world, by_all)["parcel_id"] == again
    spelled = {"tracking_number": f" {tracking.lower()}", "kind": "other"}
    assert created(client, world, spelled)["parcel_id"] == again
    direct = complain(client, world, {"parcel_id": voided, "kind": "other"})
    assert (direct.status_code, direct.json()["error"]) == (409, "parcel_voided")


def test_a_held_parcel_has_not_left(client: TestClient, world: World, session: Session) -> None:
    parcel_id = packed(client, world, session, lines=(("MUG", 2),), codes=(MUG,))
    answer = complain(client, world, {"parcel_id": parcel_id, "kind": "missing"})
    assert (answer.status_code, answer.json()["error"]) == (409, "parcel_held")


# -- flags -----------------------------------------------------------------------------------


def test_the_third_complaint_of_a_customer_is_a_repeat_claim(
    client: TestClient, world: World, session: Session
) -> None:
    parcels = [packed(client, world, session, customer_ref="CUST-9") for _ in range(4)]
    other = packed(client, world, session, customer_ref="CUST-10")
    nobody = packed(client, world, session)
    flags = [created(client, world, {"parcel_id": p, "kind": "damaged"})["repeat_claimant"]
             for p in parcels[:3]]  # fmt: skip
    assert flags == [False, False, True]
    assert not created(client, world, {"parcel_id": other, "kind": "damaged"})["repeat_claimant"]
    for _ in range(3):
        body = created(client, world, {"parcel_id": nobody, "kind": "other"})
    assert body["repeat_claimant"] is False  # no customer reference: nobody to count
    # Complaints older than the period no longer count.
    session.exec(
        update(Complaint)
        .where(col(Complaint.customer_ref) == "CUST-9")
        .values(created_at=utcnow() - timedelta(days=91))
    )  # type: ignore[call-overload]
    session.flush()
    assert not created(client, world, {"parcel_id": parcels[3], "kind": "damaged"})[
        "repeat_claimant"
    ]


@pytest.mark.parametrize(
    ("photos", "complaint", "evidence"),
    [
        ([(["MUG"], True, False)], {"kind": "missing", "sku": "MUG"}, True),
        ([(["MUG"], True, False)], {"kind": "wrong", "sku": "MUG"}, True),
        ([(["MUG"], True, True)], {"kind": "missing", "sku": "MUG"}, False),  # purged
        ([(["MUG"], False, False)], {"kind": "missing", "sku": "MUG"}, False),  # weak read
        ([(["CABLE"], True, False)], {"kind": "missing", "sku": "MUG"}, False),
        ([(["MUG"], True, False)], {"kind": "damaged", "sku": "MUG"}, False),
        ([(["MUG"], True, False), (["CABLE"], True, False)], {"kind": "missing"}, True),
        ([(["MUG"], True, False)], {"kind": "missing"}, False),  # the cable is not shown
        ([], {"kind": "missing", "sku": "MUG"}, False),
    ],
)
def test_evidence_is_a_kept_photo_showing_the_item(
    client: TestClient,
    world: World,
    session: Session,
    photos: list,
    complaint: dict,
    evidence: bool,
) -> None:
    parcel_id = packed(client, world, session, lines=(("MUG", 1), ("CABLE", 1)),
                       codes=(MUG, CABLE))  # fmt: skip
    for skus, confirmed, purged in photos:
        add_photo(session, parcel_id, skus, confirmed=confirmed, purged=purged)
    body = created(client, world, {"parcel_id": parcel_id, **complaint})
    assert body["evidence_available"] is evidence


# -- resolving, reading, listing -------------------------------------------------------------


def test_resolve_once(client: TestClient, world: World, session: Session) -> None:
    parcel_id = packed(client, world, session)
    complaint = created(client, world, {"parcel_id": parcel_id, "kind": "damaged"})
    url = f"/complaints/{complaint['id']}"
    answer = client.patch(url, json={"resolution": "reship", "note": "sent a new mug"},
                          headers=world.auth("manager"))  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["resolution"], body["resolution_note"], body["resolved_by"]) == (
        "resolved", "reship", "sent a new mug", "manager-user"
    )  # fmt: skip
    assert body["resolved_at"] is not None
    assert body["escaped_defects"] == complaint["escaped_defects"]
    assert client.get(url, headers=world.auth("support")).json() == body
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "complaint.resolve")).one()
    assert (audit.actor, audit.detail) == (
        "user:manager-user", {"resolution": "reship", "note": "sent a new mug"}
    )  # fmt: skip
    event = session.exec(
        select(WebhookEvent).where(WebhookEvent.type == "complaint.resolved")
    ).one()
    assert event.payload == body
    twice = client.patch(url, json={"resolution": "refund"}, headers=world.auth("support"))
    assert (twice.status_code, twice.json()["error"]) == (409, "complaint_resolved")
    assert client.get(url, headers=world.auth("support")).json()["resolution"] == "reship"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"resolution": "refund"}, 404, "complaint_not_found"),
        ({"resolution": "apologise"}, 422, "invalid_request"),
        ({"resolution": "refund", "note": "x" * 2001}, 422, "invalid_request"),
    ],
)
def test_resolve_refuses_bad_input(
    client: TestClient, world: World, session: Session, body: dict, status: int, code: str
) -> None:
    parcel_id = packed(client, world, session)
    complaint = created(client, world, {"parcel_id": parcel_id, "kind": "other"})
    target = complaint["id"] + (1000 if code == "complaint_not_found" else 0)
    answer = client.patch(f"/complaints/{target}", json=body, headers=world.auth("support"))
    assert (answer.status_code, answer.json()["error"]) == (status, code)
    assert count(session, Complaint, Complaint.status == "resolved") == 0


def test_get_an_unknown_complaint(client: TestClient, world: World) -> None:
    answer = client.get("/complaints/999999", headers=world.auth("support"))
    assert (answer.status_code, answer.json()["error"]) == (404, "complaint_not_found")


def test_list_filters_and_pages(client: TestClient, world: World, session: Session) -> None:
    a = packed(client, world, session, customer_ref="CUST-1")
    b = packed(client, world, session, customer_ref="CUST-2")
    add_photo(session, b, ["MUG"])
    ids = [
        created(client, world, {"parcel_id": a, "kind": "damaged"})["id"],
        created(client, world, {"parcel_id": a, "kind": "other"})["id"],
        created(client, world, {"parcel_id": a, "kind": "other"})["id"],  # repeat claimant
        created(client, world, {"parcel_id": b, "kind": "missing", "sku": "MUG"})["id"],
    ]
    client.patch(f"/complaints/{ids[0]}", json={"resolution": "refund"},
                 headers=world.auth("support"))  # fmt: skip
    order_b = session.exec(
        select(Complaint.parcel_id).where(Complaint.id == ids[3])
    ).one()  # fmt: skip
    number_b = client.get(f"/parcels/{order_b}", headers=world.auth("support")).json()["order"]
    today = utcnow().date().isoformat()

    def listed(who: str = "support", **params: Any) -> dict:
        answer = client.get("/complaints", params=params, headers=world.auth(who))
        assert answer.status_code == 200, answer.text
        return answer.json()

    def found(**params: Any) -> list[int]:
        return [row["id"] for row in listed(**params)["rows"]]

    assert found() == ids[::-1]
    assert listed("manager")["total"] == 4
    assert found(status="resolved") == [ids[0]]
    assert found(status="open") == ids[:0:-1]
    assert found(kind="other") == [ids[2], ids[1]]
    assert found(customer_ref="CUST-2") == found(customer_ref=" cust-2") == [ids[3]]
    assert found(parcel_id=a) == ids[2::-1]
    assert found(order=number_b) == found(order=f"#{number_b}") == [ids[3]]
    assert found(order="NO-SUCH") == []
    assert found(repeat=True) == [ids[2]]
    assert found(evidence=True) == [ids[3]]
    assert found(evidence=False, repeat=False) == [ids[1], ids[0]]
    assert found(**{"from": today, "to": today}) == ids[::-1]
    assert found(**{"to": "2020-01-01"}) == []
    page = listed(limit=2, offset=1)
    assert (page["total"], [r["id"] for r in page["rows"]]) == (4, [ids[2], ids[1]])
    assert listed(offset=10) == {"total": 4, "rows": []}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from": "2026-11-12", "to": "2026-11-10"}, 400, "invalid_period"),
        ({"from": "yesterday"}, 422, "invalid_request"),
        ({"limit": 0}, 422, "invalid_request"),
        ({"limit": 201}, 422, "invalid_request"),
        ({"offset": -1}, 422, "invalid_request"),
        ({"status": "closed"}, 422, "invalid_request"),
        ({"kind": "lost"}, 422, "invalid_request"),
        ({"repeat": "perhaps"}, 422, "invalid_request"),
    ],
)
def test_list_refuses_bad_queries(
    client: TestClient, world: World, params: dict, status: int, code: str
) -> None:
    answer = client.get("/complaints", params=params, headers=world.auth("support"))
    assert (answer.status_code, answer.json()["error"]) == (status, code)


# -- who may, and what is refused ------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "station", "packer", "supervisor", "admin"])
def test_only_support_and_managers_handle_complaints(
    client: TestClient, world: World, session: Session, who: str
) -> None:
    parcel_id = packed(client, world, session)
    complaint = created(client, world, {"parcel_id": parcel_id, "kind": "damaged"})
    headers = {} if who == "anonymous" else world.auth(who)
    calls = [
        client.post("/complaints", json={"parcel_id": parcel_id, "kind": "other"},
                    headers=headers),
        client.patch(f"/complaints/{complaint['id']}", json={"resolution": "refund"},
                     headers=headers),
        client.get("/complaints", headers=headers),
        client.get(f"/complaints/{complaint['id']}", headers=headers),
    ]  # fmt: skip
    expected = (401, "missing_key") if who == "anonymous" else (403, "role_required")
    assert [(c.status_code, c.json()["error"]) for c in calls] == [expected] * 4
    assert count(session, Complaint) == 1
    assert count(session, Complaint, Complaint.status == "resolved") == 0


def test_managers_may_record_complaints(client: TestClient, world: World, session: Session) -> None:
    parcel_id = packed(client, world, session)
    answer = complain(client, world, {"parcel_id": parcel_id, "kind": "damaged"}, who="manager")
    assert answer.status_code == 201
    assert answer.json()["created_by"] == "manager-user"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "missing"}, 400, "no_parcel_given"),
        ({"order": " ", "tracking_number": "", "kind": "missing"}, 400, "no_parcel_given"),
        ({"order": "1002", "parcel_id": "{shipped}", "kind": "missing"}, 409,
         "identifiers_disagree"),
        ({"tracking_number": "{tracking}", "parcel_id": "{packing}", "kind": "missing"}, 409,
         "identifiers_disagree"),
        ({"order": "NO-SUCH", "kind": "missing"}, 404, "order_not_found"),
        ({"order": "NO-SUCH", "parcel_id": "{shipped}", "kind": "missing"}, 404,
         "order_not_found"),
        ({"parcel_id": 999999, "kind": "missing"}, 404, "parcel_not_found"),
        ({"tracking_number": "NO-SUCH-1", "kind": "missing"}, 404, "parcel_not_found"),
        ({"order": "1002", "kind": "missing"}, 404, "parcel_not_found"),
        ({"parcel_id": "{shipped}", "kind": "missing", "sku": "NOPE"}, 404,
         "product_not_found"),
        ({"parcel_id": "{packing}", "kind": "missing"}, 409, "parcel_not_closed"),
        ({"order": "1001", "kind": "missing"}, 409, "parcel_not_closed"),
        ({"parcel_id": "{shipped}", "kind": "missing", "qty": 0}, 422, "invalid_request"),
        ({"parcel_id": "{shipped}", "kind": "missing", "qty": 1001}, 422, "invalid_request"),
        ({"parcel_id": "{shipped}", "kind": "missing", "note": "x" * 2001}, 422,
         "invalid_request"),
        ({"parcel_id": "{shipped}", "kind": "lost"}, 422, "invalid_request"),
        ({"parcel_id": "{shipped}", "kind": "other", "colour": "red"}, 422, "invalid_request"),
        ({"parcel_id": "{shipped}", "kind": "other", "note": "a\x00b"}, 422, "invalid_request"),
        ({"parcel_id": 0, "kind": "other"}, 422, "invalid_request"),
    ],
)  # fmt: skip
def test_bad_complaints_are_refused_and_change_nothing(
    client: TestClient, world: World, session: Session, body: dict, status: int, code: str
) -> None:
    shipped = packed(client, world, session)
    tracking = session.exec(select(Parcel.tracking_number).where(Parcel.id == shipped)).one()
    packing = open_parcel(client, world, order="1001")["id"]
    ids = {"shipped": shipped, "packing": packing, "tracking": tracking}
    body = {k: (v.format(**ids) if isinstance(v, str) else v) for k, v in body.items()}
    body = {k: (int(v) if k == "parcel_id" and isinstance(v, str) else v) for k, v in body.items()}
    defects, audits = count(session, Defect), count(session, AuditEvent)

    answer = complain(client, world, body)

    assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text
    assert answer.json()["detail"]
    assert count(session, Complaint) == 0
    assert (count(session, Defect), count(session, AuditEvent)) == (defects, audits)
    assert count(session, WebhookEvent, col(WebhookEvent.type).startswith("complaint.")) == 0
    assert differences(session, UTC_ZONE) == []


def test_a_retry_with_the_same_key_records_one_complaint(
    client: TestClient, world: World, session: Session
) -> None:
    parcel_id = packed(client, world, session)
    body = {"parcel_id": parcel_id, "kind": "missing", "sku": "MUG"}
    first = complain(client, world, body, **{"Idempotency-Key": "c-1"})
    again = complain(client, world, body, **{"Idempotency-Key": "c-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert count(session, Complaint) == 1
    assert count(session, Defect, Defect.stage == "escaped") == 1
    assert count(session, WebhookEvent, col(WebhookEvent.type).startswith("complaint.")) == 1
    other = complain(client, world, {**body, "qty": 2}, **{"Idempotency-Key": "c-1"})
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_key_reused")
    assert summary(client, world)["defects_escaped"] == 1
    assert differences(session, UTC_ZONE) == []


# -- the parcel's story ----------------------------------------------------------------------


def test_the_parcel_tells_its_whole_story_in_time_order(
    client: TestClient, world: World, session: Session
) -> None:
    parcel_id = open_parcel(client, world)["id"]  # order 1001: 2 MUG, 1 CABLE
    assert scan(client, world, parcel_id, PHONE)["result"] == "wrong_item"  # a caught defect
    for code in (MUG, MUG, CABLE):
        scan(client, world, parcel_id, code)
    weighed = client.post(f"/parcels/{parcel_id}/weight", json={"grams": 900},
                          headers=world.auth("station"))  # fmt: skip
    assert weighed.status_code == 200
    add_photo(session, parcel_id, ["MUG", "CABLE"])
    assert close(client, world, parcel_id)["status"] == "passed"
    tracking = ship(client, world, parcel_id)
    complaint = created(client, world, {"tracking_number": tracking, "kind": "missing",
                                        "sku": "CABLE"})  # fmt: skip
    client.patch(f"/complaints/{complaint['id']}", json={"resolution": "no_action",
                 "note": "the photo shows the cable"}, headers=world.auth("support"))  # fmt: skip

    detail = client.get(f"/parcels/{parcel_id}", headers=world.auth("support")).json()

    events = [entry["event"] for entry in detail["timeline"]]
    assert events == [
        "opened", "scan", "defect", "scan", "scan", "scan", "photo", "weighed", "closed",
        "shipped", "complaint", "defect", "complaint_resolved",
    ]  # fmt: skip
    times = [entry["at"] for entry in detail["timeline"]]
    assert times == sorted(times)
    assert detail["timeline"][7]["detail"] == "900 g (expected 890 g)"
    assert "no_action" in detail["timeline"][-1]["detail"]
    assert (detail["weight_g"], detail["expected_weight_g"]) == (900, 890)
    assert detail["shipment"] == {
        "tracking_number": tracking, "sscc": None, "shipped_at": detail["shipped_at"]
    }  # fmt: skip
    [story] = detail["complaints"]
    assert (story["id"], story["status"], story["evidence_available"]) == (
        complaint["id"], "resolved", True
    )  # fmt: skip
    assert story["escaped_defects"] == [{"kind": "missing_item", "sku": "CABLE", "qty": 1}]
    assert [d["stage"] for d in detail["defects"]] == ["caught", "escaped"]


def test_a_parcel_without_shipment_or_complaints(client: TestClient, world: World) -> None:
    parcel_id = open_parcel(client, world)["id"]
    detail = client.get(f"/parcels/{parcel_id}", headers=world.auth("supervisor")).json()
    assert (detail["shipment"], detail["complaints"], detail["weight_g"]) == (None, [], None)
    assert [e["event"] for e in detail["timeline"]] == ["opened"]


def test_a_bench_reading_its_parcel_does_not_see_what_the_customer_said(
    client: TestClient, world: World, session: Session
) -> None:
    parcel_id = packed(client, world, session)
    note = "Mrs Smith, 12 Elm Street, says the mug was missing"
    created(client, world, {"parcel_id": parcel_id, "kind": "missing", "sku": "MUG", "note": note})
    for who, seen in (("station", 0), ("support", 1), ("supervisor", 1)):
        detail = client.get(f"/parcels/{parcel_id}", headers=world.auth(who)).json()
        assert len(detail["complaints"]) == seen, who
        assert sum(e["event"] == "complaint" for e in detail["timeline"]) == seen, who
    closed = [e for e in detail["timeline"] if e["event"] == "closed"]
    assert [e["detail"] for e in closed] == ["passed"]  # the verdict at closing, though shipped
