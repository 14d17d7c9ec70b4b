"""GET /audit: the audit log for admins, filtered, paged by id, newest first."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from api.settings import get_settings
from qc.audit import find_events, record_event
from qc.errors import InvalidInput
from qc.models import AuditEvent
from tests.api.test_packing import open_parcel
from tests.api.test_photos import GOOD, upload
from tests.factories import World, make_world

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def events(world: World, session: Session) -> list[int]:
    """Six events on widgets, an hour apart from T0; their ids, oldest first."""
    made = []
    for n, (actor, action, object_id) in enumerate([
        ("user:ann", "widget.make", "1"), ("user:bob", "widget.make", "2"),
        ("user:ann", "widget.break", "1"), ("user:ann", "widget.make", "3"),
        ("user:bob", "widget.break", "2"), ("user:cat", "widget.make", "4"),
    ]):  # fmt: skip
        event = record_event(session, actor=actor, action=action, object_type="widget",
                             object_id=object_id, detail={"n": n}, ip="10.0.0.9")  # fmt: skip
        event.at = T0 + timedelta(hours=n)
        session.flush()
        made.append(event.id)
    return made


def audit(client: TestClient, world: World, who: str = "admin", **params: object):
    return client.get("/audit", params=params, headers=world.auth(who))


def ids(answer) -> list[int]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200, answer.text
    return [row["id"] for row in answer.json()["rows"]]


def test_an_admin_reads_the_log_newest_first(
    client: TestClient, world: World, events: list[int]
) -> None:
    answer = audit(client, world, object_type="widget")
    assert ids(answer) == events[::-1]
    body = answer.json()
    assert body["next_before"] is None
    assert body["rows"][0] == {
        "id": events[-1], "at": "2026-05-01T13:00:00Z", "actor": "user:cat",
        "action": "widget.make", "object_type": "widget", "object_id": "4", "detail": {"n": 5},
        "ip": "10.0.0.9",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "user:ann"}, [3, 2, 0]),
        ({"action": "widget.break"}, [4, 2]),
        ({"object_id": "2"}, [4, 1]),
        ({"actor": "user:bob", "action": "widget.make"}, [1]),
        ({"actor": "user:nobody"}, []),
        ({"from": "2026-05-01T10:00:00Z"}, [5, 4, 3, 2]),  # from: at or after
        ({"to": "2026-05-01T10:00:00Z"}, [1, 0]),  # to: before
        ({"from": "2026-05-01T09:00:00+00:00", "to": "2026-05-01T11:00:00Z"}, [2, 1]),
        ({"from": "2026-05-01T11:00:00+02:00", "to": "2026-05-01T10:30:00Z"}, [2, 1]),
        ({"from": "2026-05-01"}, [5, 4, 3, 2, 1, 0]),
    ],
)
def test_filters(
    client: TestClient, world: World, events: list[int], params: dict, expected: list[int]
) -> None:
    answer = audit(client, world, object_type="widget", **params)
    assert ids(answer) == [events[i] for i in expected]


def test_a_time_without_a_zone_is_the_warehouses(
    client: TestClient, world: World, events: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QC_TIMEZONE", "Europe/Berlin")  # UTC+2 in May
    get_settings.cache_clear()
    try:
        answer = audit(client, world, object_type="widget", **{"from": "2026-05-01T12:00"})
        assert ids(answer) == [events[i] for i in (5, 4, 3, 2)]  # from 10:00 UTC
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_pages_follow_the_id_cursor_without_gaps_or_repeats(
    client: TestClient, world: World, session: Session, events: list[int]
) -> None:
    seen: list[int] = []
    before = None
    pages = 0
    while True:
        params = {"object_type": "widget", "limit": 4, **({"before": before} if before else {})}
        answer = audit(client, world, **params)
        page = ids(answer)
        seen += page
        pages += 1
        before = answer.json()["next_before"]
        if pages == 1:  # an event that arrives meanwhile does not shift the next page
            record_event(session, actor="user:late", action="widget.make",
                         object_type="widget", object_id="9")  # fmt: skip
            session.flush()
        if before is None:
            break
        assert before == page[-1]
    assert seen == events[::-1] and pages == 2


def test_a_full_last_page_says_there_is_nothing_after_it(
    client: TestClient, world: World, events: list[int]
) -> None:
    first = audit(client, world, object_type="widget", limit=3).json()
    assert first["next_before"] == events[3]
    second = audit(client, world, object_type="widget", limit=3, before=first["next_before"])
    assert ids(second) == events[2::-1] and second.json()["next_before"] is None


def test_photo_views_downloads_and_shares_are_in_the_log_with_who_and_where(
    client: TestClient, world: World
) -> None:
    parcel = open_parcel(client, world)
    photo = upload(client, world, parcel["id"], GOOD).json()
    assert client.get(f"/photos/{photo['id']}", headers=world.auth("manager")).status_code == 200
    url = f"/parcels/{parcel['id']}/evidence"
    assert client.get(url, headers=world.auth("support")).status_code == 200
    assert client.post(f"{url}/share", headers=world.auth("support")).status_code == 201
    rows = audit(client, world, limit=3).json()["rows"]
    assert [(r["action"], r["actor"], r["object_type"], r["object_id"], r["ip"]) for r in rows] == [
        ("evidence.share", "user:support-user", "parcel", str(parcel["id"]), "testclient"),
        ("evidence.download", "user:support-user", "parcel", str(parcel["id"]), "testclient"),
        ("photo.view", "user:manager-user", "photo", str(photo["id"]), "testclient"),
    ]


@pytest.mark.parametrize("who", ["station", "packer", "supervisor", "manager", "support"])
def test_only_admins_read_the_log(client: TestClient, world: World, who: str) -> None:
    answer = audit(client, world, who=who)
    assert (answer.status_code, answer.json()["error"]) == (403, "role_required")


def test_the_log_needs_a_key(client: TestClient) -> None:
    assert client.get("/audit").status_code == 401


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from": "yesterday"}, 422, "invalid_request"),
        ({"to": "2026-13-01T00:00:00Z"}, 422, "invalid_request"),
        ({"limit": 0}, 422, "invalid_request"),
        ({"limit": 501}, 422, "invalid_request"),
        ({"limit": "many"}, 422, "invalid_request"),
        ({"before": 0}, 422, "invalid_request"),
        ({"actor": "x" * 121}, 422, "invalid_request"),
        ({"action": ""}, 422, "invalid_request"),
        ({"from": "2026-05-02T00:00:00Z", "to": "2026-05-01T00:00:00Z"}, 400, "invalid_period"),
        ({"from": "2026-05-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"}, 400, "invalid_period"),
        ({"from": "0001-01-01T00:00:00+14:00"}, 400, "invalid_time"),
    ],
)
def test_bad_queries_are_refused(
    client: TestClient, world: World, session: Session, params: dict, status: int, code: str
) -> None:
    count = session.exec(select(func.count()).select_from(AuditEvent)).one()
    answer = audit(client, world, **params)
    assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text
    assert session.exec(select(func.count()).select_from(AuditEvent)).one() == count


def test_the_service_refuses_naive_times_and_an_empty_page(session: Session) -> None:
    for kwargs in ({"since": datetime(2026, 5, 1)}, {"until": datetime(2026, 5, 1)}, {"limit": 0}):
        with pytest.raises(InvalidInput):
            find_events(session=session, **kwargs)  # type: ignore[arg-type]


def test_limit_500_is_accepted(client: TestClient, world: World, session: Session) -> None:
    total = session.exec(select(func.count()).select_from(AuditEvent)).one()
    rows = audit(client, world, limit=500).json()["rows"]
    assert len(rows) == min(total, 500)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert session.exec(select(func.max(col(AuditEvent.id)))).one() == rows[0]["id"]
