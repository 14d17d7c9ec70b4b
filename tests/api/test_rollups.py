"""The rollups kept in step with events equal a rebuild from raw rows, whatever happened."""

import itertools
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from qc.enums import DefectKind
from qc.escaped import Escaped, record_escaped
from qc.rollup_cells import ALL_SKUS, MEASURES, DefectFact, ParcelFacts, cells, delta
from qc.rollup_grains import GRAINS
from qc.rollup_rebuild import differences, rebuild
from qc.rollups import CELLS
from tests.factories import CABLE, MUG, PHONE, World, make_order, make_world

UTC_ZONE = ZoneInfo("UTC")
_orders = itertools.count(1)


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


parcel_story = st.fixed_dictionaries({
    "lines": st.lists(st.sampled_from(["MUG", "CABLE"]), min_size=1, max_size=2, unique=True),
    "qty": st.integers(1, 2),
    "scans": st.lists(st.sampled_from([MUG, CABLE, PHONE, "4000000000099"]), max_size=5),
    "damaged": st.booleans(),
    "short": st.booleans(),
    "close": st.booleans(),
    "after": st.sampled_from(["nothing", "override", "void", "ship"]),
    "complaint": st.lists(st.sampled_from(["missing_item", "damaged_item"]), max_size=2),
})  # fmt: skip


def play(client: TestClient, world: World, session: Session, story: dict) -> None:
    number = f"R{next(_orders)}"
    make_order(session, number=number, lines=[(sku, story["qty"]) for sku in story["lines"]])
    session.flush()
    auth = world.auth("station")
    body = {"order": number, "packer": "P-001"}
    pid = client.post("/parcels", json=body, headers=auth).json()["id"]
    for code in story["scans"]:
        event = {"code": code, "event_id": f"{number}-{code}-{next(_orders)}"}
        client.post(f"/parcels/{pid}/scans", json=event, headers=auth)
    if story["damaged"]:
        client.post(f"/parcels/{pid}/damaged", json={"sku": "MUG"}, headers=auth)
    if story["short"]:
        client.post(f"/parcels/{pid}/short", headers=auth,
                    json={"sku": story["lines"][0], "qty": 1, "reason": "out"})  # fmt: skip
    if not story["close"]:
        return
    verdict = client.post(f"/parcels/{pid}/close", headers=auth).json()
    boss = world.auth("supervisor")
    if story["after"] == "override" and verdict.get("status") == "held":
        client.post(f"/parcels/{pid}/override", json={"reason": "ok"}, headers=boss)
    elif story["after"] == "void" and verdict.get("status") == "held":
        client.post(f"/parcels/{pid}/void", json={"reason": "redo"}, headers=boss)
    elif story["after"] == "ship":
        client.post(f"/parcels/{pid}/ship", json={"tracking_number": f"TRK-{number}"}, headers=auth)
    if story["complaint"]:
        complaint = [Escaped(DefectKind(kind), "MUG", 1) for kind in story["complaint"]]
        record_escaped(session=session, parcel_id=pid, defects=complaint, reason="c",
                       zone=UTC_ZONE)  # fmt: skip


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(parcel_story, min_size=1, max_size=4))
def test_rollups_equal_a_rebuild_after_any_history(
    client: TestClient, world: World, session: Session, stories: list[dict]
) -> None:
    for story in stories:
        play(client, world, session, story)
    assert differences(session, UTC_ZONE) == []
    before = _every_grain(session)
    rebuild(session, UTC_ZONE)
    assert _every_grain(session) == before


def _every_grain(session: Session) -> dict[str, list[tuple]]:
    """Every rollup table's rows that count something, in order."""
    out = {}
    for table in (CELLS, *(g.table for g in GRAINS)):
        rows = session.connection().execute(table.select()).all()
        out[table.name] = sorted(
            (tuple(r) for r in rows if any(r._mapping[m] for m in MEASURES)), key=str
        )
    return out


defect = st.builds(DefectFact, st.sampled_from([None, 1, 2]),
                   st.sampled_from(["wrong_item", "missing_item"]),
                   st.sampled_from(["caught", "escaped"]), st.integers(1, 3))  # fmt: skip


@given(st.lists(defect, max_size=6), st.lists(defect, max_size=3), st.booleans())
def test_counting_in_steps_is_counting_at_once(
    first: list[DefectFact], later: list[DefectFact], shipped: bool
) -> None:
    """Adding the differences of each step gives the counting of the final parcel."""
    base = ParcelFacts(units={1: 2, 2: 1}, first_pass=not first, packing_s=60)
    step1 = ParcelFacts(**{**base.__dict__, "defects": tuple(first)})
    step2 = ParcelFacts(**{**step1.__dict__, "defects": tuple(first + later), "shipped": shipped})
    total: dict = {}
    for diff in (delta(cells(step1), {}), delta(cells(step2), cells(step1))):
        for key, counts in diff.items():
            for name, value in counts.items():
                total.setdefault(key, {})[name] = total.get(key, {}).get(name, 0) + value
    final = cells(step2)
    assert {
        k: {m: v for m, v in c.items() if v} for k, c in total.items() if any(c.values())
    } == final
    # A parcel is defective at most once in any cell, however many defects it has there.
    assert all(c.get("defective", 0) <= 1 for c in final.values())
    assert final[(ALL_SKUS, "", "")]["parcels"] == 1
