"""Defect statistics on a known history: every figure checked exactly, on both engines."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select, update

from qc.enums import DefectKind
from qc.escaped import Escaped, record_escaped
from qc.models import Parcel, Product
from qc.rollup_rebuild import differences, rebuild
from qc.rollups import Place, add_confusions
from tests.api.test_packing import close, open_parcel, scan
from tests.factories import CABLE, MUG, PHONE, World, make_order, make_world

UTC_ZONE = ZoneInfo("UTC")
DAY1, DAY2 = datetime(2026, 11, 10, 9, tzinfo=UTC), datetime(2026, 11, 11, 9, tzinfo=UTC)
PERIOD = {"from": "2026-11-10", "to": "2026-11-11"}


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def post(
    client: TestClient, world: World, path: str, body: dict | None = None, who: str = "station"
) -> dict:
    answer = client.post(path, json=body, headers=world.auth(who))
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def pack(
    client: TestClient, world: World, session: Session, number: str, lines: list, codes: list[str]
) -> int:
    make_order(session, number=number, lines=lines)
    session.flush()
    parcel = open_parcel(client, world, order=number)
    for code in codes:
        scan(client, world, parcel["id"], code)
    return int(parcel["id"])


def closed_at(session: Session, parcel_id: int, when: datetime) -> None:
    session.exec(
        update(Parcel)
        .where(col(Parcel.id) == parcel_id)
        .values(closed_at=when, opened_at=when - timedelta(minutes=10))
    )  # type: ignore[call-overload]


@pytest.fixture
def history(client: TestClient, world: World, session: Session) -> dict[str, int]:
    """Six parcels over two days (UTC), each a different story; rollups rebuilt for them."""
    p = {}
    p["first"] = pack(client, world, session, "H1", [("MUG", 2), ("CABLE", 1)], [MUG, MUG, CABLE])
    close(client, world, p["first"])
    post(client, world, f"/parcels/{p['first']}/ship", {"tracking_number": "TRK-0001"})
    p["wrong"] = pack(client, world, session, "H2", [("MUG", 1)], [PHONE, MUG])  # a refusal
    close(client, world, p["wrong"])
    p["held"] = pack(client, world, session, "H3", [("MUG", 2)], [MUG])
    assert close(client, world, p["held"])["status"] == "held"
    post(client, world, f"/parcels/{p['held']}/override", {"reason": "checked"}, "supervisor")
    p["short"] = pack(client, world, session, "H4", [("CABLE", 2)], [CABLE])
    post(
        client, world, f"/parcels/{p['short']}/short", {"sku": "CABLE", "qty": 1, "reason": "none"}
    )
    close(client, world, p["short"])
    p["escaped"] = pack(client, world, session, "H5", [("MUG", 1)], [MUG])
    close(client, world, p["escaped"])
    post(client, world, f"/parcels/{p['escaped']}/ship", {"tracking_number": "TRK-0005"})
    record_escaped(session=session, parcel_id=p["escaped"], reason="customer: no mug",
                   defects=[Escaped(DefectKind.MISSING_ITEM, "MUG", 1)], zone=UTC_ZONE)  # fmt: skip
    p["later"] = pack(client, world, session, "H6", [("MUG", 1)], [MUG])
    close(client, world, p["later"])
    p["voided"] = pack(client, world, session, "H7", [("MUG", 1)], [])  # never closed
    post(client, world, f"/parcels/{p['voided']}/void", {"reason": "bench broke"}, "supervisor")
    assert differences(session, UTC_ZONE) == []  # kept in step as it happened
    assert differences(session, UTC_ZONE, batch=2) == []  # read in several batches too
    for name, parcel_id in p.items():
        if name != "voided":
            closed_at(session, parcel_id, DAY2 if name == "later" else DAY1)
    rebuild(session, UTC_ZONE, batch=2)
    return p


def stats(client: TestClient, world: World, path: str, **params: str) -> dict:
    answer = client.get(
        f"/stats/{path}", params={**PERIOD, **params}, headers=world.auth("manager")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_summary(client: TestClient, world: World, history: dict) -> None:
    body = stats(client, world, "summary")
    assert body["current"] == {
        "parcels_closed": 6, "parcels_shipped": 2, "first_pass_yield": 0.5, "caught_rate": 0.5,
        "escaped_rate": 0.5, "caught_share": 0.75, "defects_caught": 3, "defects_escaped": 1,
    }  # fmt: skip
    assert (body["previous_from"], body["previous_to"]) == ("2026-11-08", "2026-11-09")
    assert body["previous"]["parcels_closed"] == 0 and body["previous"]["first_pass_yield"] is None


def test_defect_rate_by_day_with_control_limits(
    client: TestClient, world: World, history: dict
) -> None:
    rows = stats(client, world, "defect-rate", group_by="day", stage="caught")["rows"]
    figures = [
        (r["key"], r["parcels"], r["defective_parcels"], r["defects"], r["rate"]) for r in rows
    ]
    assert figures == [("2026-11-10", 5, 3, 3, 0.6), ("2026-11-11", 1, 0, 0, 0.0)]
    assert rows[0]["center"] == 0.5 and rows[0]["lower"] == 0.0
    assert rows[0]["upper"] == 1.0 and not rows[0]["out_of_control"]


def test_an_out_of_control_group_is_flagged(
    client: TestClient, world: World, session: Session
) -> None:
    # Nine clean parcels on one day, four with a wrong item on the next: p̄ = 4/13.
    for i in range(9):
        parcel = pack(client, world, session, f"C{i}", [("MUG", 1)], [MUG])
        close(client, world, parcel)
        closed_at(session, parcel, DAY1)
    for i in range(4):
        parcel = pack(client, world, session, f"D{i}", [("MUG", 1)], [PHONE, MUG])
        close(client, world, parcel)
        closed_at(session, parcel, DAY2)
    rebuild(session, UTC_ZONE)
    rows = stats(client, world, "defect-rate", group_by="day")["rows"]
    assert [(r["rate"], r["out_of_control"]) for r in rows] == [(0.0, False), (1.0, True)]
    assert rows[1]["center"] == round(4 / 13, 6)


def test_defect_rate_by_kind_sku_station_packer(
    client: TestClient, world: World, history: dict
) -> None:
    kinds = stats(client, world, "defect-rate", group_by="kind", stage="caught")["rows"]
    assert [(r["key"], r["parcels"], r["defective_parcels"]) for r in kinds] == [
        ("missing_item", 6, 1), ("short_ship", 6, 1), ("wrong_item", 6, 1)
    ]  # fmt: skip
    skus = stats(client, world, "defect-rate", group_by="sku", stage="all")["rows"]
    assert [(r["key"], r["units"], r["defects"], r["rate"]) for r in skus] == [
        ("CABLE", 2, 1, 0.5), ("MUG", 6, 2, round(2 / 6, 6)), ("PHONE", 0, 1, None)
    ]  # fmt: skip
    stations = stats(client, world, "defect-rate", group_by="station", stage="all")["rows"]
    assert [(r["key"], r["parcels"], r["defective_parcels"]) for r in stations] == [
        ("BENCH-1", 6, 4)
    ]
    escaped = stats(client, world, "defect-rate", group_by="packer", stage="escaped")["rows"]
    assert [(r["key"], r["parcels"], r["defective_parcels"]) for r in escaped] == [
        ("packer-user", 6, 1)
    ]


def test_filters_narrow_the_counting(client: TestClient, world: World, history: dict) -> None:
    by_mug = stats(client, world, "defect-rate", group_by="day", stage="all", sku="MUG")["rows"]
    assert [(r["parcels"], r["defective_parcels"]) for r in by_mug] == [(4, 2), (1, 0)]
    missing = stats(client, world, "defect-rate", group_by="day", stage="all", kind="missing_item")
    assert [(r["parcels"], r["defective_parcels"]) for r in missing["rows"]] == [(5, 2), (1, 0)]
    other = stats(client, world, "defect-rate", group_by="day", station="BENCH-2")["rows"]
    assert [r["parcels"] for r in other] == [0, 0]


def test_pareto_confusions_packers(client: TestClient, world: World, history: dict) -> None:
    rows = stats(client, world, "pareto", dimension="sku", stage="all")["rows"]
    assert [(r["key"], r["defects"], r["share"], r["cumulative_share"]) for r in rows] == [
        ("MUG", 2, 0.5, 0.5), ("CABLE", 1, 0.25, 0.75), ("PHONE", 1, 0.25, 1.0)
    ]  # fmt: skip
    kinds = stats(client, world, "pareto", dimension="kind", stage="caught")["rows"]
    assert [r["key"] for r in kinds] == ["missing_item", "short_ship", "wrong_item"]
    assert stats(client, world, "confusions")["rows"] == [
        {"expected_sku": "MUG", "scanned_sku": "PHONE", "count": 1}
    ]
    [packer] = stats(client, world, "packers")["rows"]
    assert packer == {
        "packer": "packer-user", "parcels": 6, "units": 8, "hours": 1.0,
        "parcels_per_hour": 6.0, "units_per_hour": 8.0, "first_pass_yield": 0.5,
        "defect_rate": round(4 / 6, 6),
    }  # fmt: skip


def test_csv_on_request(client: TestClient, world: World, history: dict) -> None:
    answer = client.get("/stats/defect-rate", params={**PERIOD, "format": "csv"},
                        headers=world.auth("manager"))  # fmt: skip
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["key"], r["parcels"]) for r in rows] == [("2026-11-10", "5"), ("2026-11-11", "1")]
    by_header = client.get("/stats/summary", params=PERIOD,
                           headers={**world.auth("manager"), "Accept": "text/csv"})  # fmt: skip
    assert by_header.text.splitlines()[0].startswith("period,from,to,parcels_closed")


def test_an_empty_period_answers_zeros(client: TestClient, world: World) -> None:
    body = stats(client, world, "defect-rate", group_by="week")
    assert [(r["key"], r["parcels"], r["rate"]) for r in body["rows"]] == [("2026-W46", 0, None)]
    assert stats(client, world, "pareto")["rows"] == []
    assert stats(client, world, "summary")["current"]["caught_share"] is None


def test_local_days_across_the_autumn_clock_change(
    client: TestClient, world: World, session: Session
) -> None:
    # Berlin, 25 October 2026: clocks go back at 03:00, so that day lasts 25 hours,
    # from 22:00 UTC on the 24th to 23:00 UTC on the 25th.
    berlin = ZoneInfo("Europe/Berlin")
    times = {"before": datetime(2026, 10, 24, 21, 59, tzinfo=UTC),
             "first": datetime(2026, 10, 24, 22, 0, tzinfo=UTC),
             "last": datetime(2026, 10, 25, 22, 59, tzinfo=UTC),
             "after": datetime(2026, 10, 25, 23, 0, tzinfo=UTC)}  # fmt: skip
    for name, when in times.items():
        parcel = pack(client, world, session, f"B-{name}", [("MUG", 1)], [MUG])
        close(client, world, parcel)
        closed_at(session, parcel, when)
    rebuild(session, berlin)
    answer = client.get("/stats/defect-rate", headers=world.auth("manager"),
                        params={"from": "2026-10-24", "to": "2026-10-26"})  # fmt: skip
    assert [(r["key"], r["parcels"]) for r in answer.json()["rows"]] == [
        ("2026-10-24", 1),
        ("2026-10-25", 2),
        ("2026-10-26", 1),
    ]


@pytest.mark.parametrize("who", ["station", "support", "supervisor", "admin", "packer"])
def test_only_managers_see_statistics(client: TestClient, world: World, who: str) -> None:
    for path in ("defect-rate", "summary", "pareto", "confusions", "packers"):
        answer = client.get(f"/stats/{path}", headers=world.auth(who))
        assert (answer.status_code, answer.json()["error"]) in ((403, "role_required"),
                                                                (403, "station_only"))  # fmt: skip


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from": "2026-11-12", "to": "2026-11-10"}, 400, "invalid_period"),
        ({"from": "2020-01-01", "to": "2026-11-10"}, 400, "invalid_period"),
        ({"from": "yesterday"}, 422, "invalid_request"),
        ({"group_by": "colour"}, 422, "invalid_request"),
        ({"kind": "lost"}, 422, "invalid_request"),
        ({"station": "NOPE"}, 404, "unknown_station"),
        ({"sku": "NOPE"}, 404, "unknown_sku"),
        ({"format": "xml"}, 422, "invalid_request"),
    ],
)
def test_bad_queries_are_refused(
    client: TestClient, world: World, params: dict, status: int, code: str
) -> None:
    answer = client.get("/stats/defect-rate", params=params, headers=world.auth("manager"))
    assert (answer.status_code, answer.json()["error"]) == (status, code)


def test_a_kind_narrows_the_summary_and_the_packers(
    client: TestClient, world: World, history: dict
) -> None:
    summary = stats(client, world, "summary", kind="missing_item")["current"]
    assert (summary["parcels_closed"], summary["defects_caught"], summary["defects_escaped"]) == (
        6, 1, 1
    )  # fmt: skip
    assert (summary["caught_rate"], summary["escaped_rate"], summary["caught_share"]) == (
        round(1 / 6, 6), 0.5, 0.5
    )  # fmt: skip
    [packer] = stats(client, world, "packers", kind="missing_item")["rows"]
    assert packer["defect_rate"] == round(2 / 6, 6) and packer["parcels"] == 6


def test_confusions_gives_the_most_frequent_pairs(
    client: TestClient, world: World, session: Session
) -> None:
    day = date.fromisoformat(PERIOD["from"])
    place = Place(day, datetime(day.year, day.month, day.day, 9, tzinfo=UTC), 1, 1)
    ids = {p.sku: p.id for p in session.exec(select(Product))}
    add_confusions(session, place, {(ids["MUG"], ids["PHONE"]): 5, (ids["MUG"], ids["CABLE"]): 3,
                                    (ids["TEA"], ids["CABLE"]): 3})  # fmt: skip
    top = stats(client, world, "confusions", limit="2")
    assert top["pairs"] == 3
    assert [(r["expected_sku"], r["scanned_sku"], r["count"]) for r in top["rows"]] == [
        ("MUG", "PHONE", 5), ("MUG", "CABLE", 3)
    ]  # fmt: skip
    assert len(stats(client, world, "confusions")["rows"]) == 3
    for bad in ("0", "10001", "many"):
        answer = client.get("/stats/confusions", params={**PERIOD, "limit": bad},
                            headers=world.auth("manager"))  # fmt: skip
        assert answer.status_code == 422, bad
