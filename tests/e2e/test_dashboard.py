"""The manager's dashboard at /dashboard, in headless Chromium, on a known history.

The history is packed through the API with the benches' keys, as the benches do: 20 clean
parcels and one with a wrong item scanned at BENCH-1, four held for a missing item at
BENCH-2, and one shipped parcel that a customer reported damaged. The clean parcels are then
moved back over the last ten days and the rollups rebuilt from the raw rows (what
`qc stats rebuild` does), so the charts have a history and today stands out.
"""

import csv
import io
import itertools
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from sqlmodel import col, select

from api.db import session_for
from api.settings import get_settings
from qc.enums import DefectKind, Role
from qc.escaped import Escaped, record_escaped
from qc.models import Order, Parcel
from qc.rollup_rebuild import rebuild
from tests.e2e.conftest import LiveServer
from tests.e2e.office_pages import check_served
from tests.factories import CABLE, MUG, PHONE, make_order, make_user

TODAY = datetime.now(ZoneInfo(get_settings().timezone)).date()


def screenshot(page: Page, output_dir: Path, step: str, *, full: bool = False) -> None:
    """Save the page as output_dir/dashboard-<step>.png (atomically: workers share the folder)."""
    path = output_dir / f"dashboard-{step}.png"
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(page.screenshot(full_page=full))
    partial.replace(path)


def pack(server: LiveServer, *, key: str, badge: str, order: str, codes: list[str]) -> dict:
    """Open the order's parcel, scan the codes, close it: what a bench does."""
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=auth) as api:
        opened = api.post("/parcels", json={"order": order, "packer": badge})
        assert opened.status_code == 201, opened.text
        parcel_id = opened.json()["id"]
        results = []
        for code in codes:
            scan = {"code": code, "source": "scanner", "event_id": str(uuid.uuid4())}
            answer = api.post(f"/parcels/{parcel_id}/scans", json=scan)
            assert answer.status_code == 200, answer.text
            results.append(answer.json()["result"])
        closed = api.post(f"/parcels/{parcel_id}/close")
        assert closed.status_code == 200, closed.text
        return {"id": parcel_id, "scans": results, **closed.json()}


@pytest.fixture
def history(live_server: LiveServer, live_engine: Engine) -> LiveServer:
    world = live_server.world
    with session_for(live_engine, write=True) as session:
        for n in range(3001, 3026):
            make_order(session, number=str(n), lines=[("MUG", 1), ("CABLE", 1)])
        world.keys["dana"] = make_user(session, name="dana", role=Role.PACKER, badge="P-002")
        session.commit()
    bench1, bench2 = world.keys["station"], world.keys["station2"]
    for n in range(3001, 3021):
        assert (
            pack(live_server, key=bench1, badge="P-001", order=str(n), codes=[MUG, CABLE])["status"]
            == "passed"
        )
    # A phone where the cable should go: caught at the bench, and a confusion pair
    wrong = pack(live_server, key=bench1, badge="P-001", order="3021", codes=[MUG, PHONE, CABLE])
    assert wrong["scans"] == ["accepted", "wrong_item", "accepted"]
    assert wrong["status"] == "passed"
    for n in range(3022, 3026):
        held = pack(live_server, key=bench2, badge="P-002", order=str(n), codes=[MUG])
        assert held["status"] == "held"
    shipped = httpx.post(
        f"{live_server.url}/api/v1/parcels/{_parcel(live_engine, '3005')}/ship",
        json={"tracking_number": "TRK-3005"},
        headers=world.auth("station"),
    )
    assert shipped.status_code == 200, shipped.text

    zone = ZoneInfo(get_settings().timezone)
    with session_for(live_engine, write=True) as session:
        parcel_id = _parcel(live_engine, "3005")
        record_escaped(
            session=session,
            parcel_id=parcel_id,
            defects=[Escaped(kind=DefectKind.DAMAGED_ITEM, sku="MUG")],
            reason="arrived broken",
            zone=zone,
        )
        # The clean parcels spread over the ten days before today, two a day, three minutes
        # of packing each; then the rollups recounted from the moved rows.
        clean = session.exec(
            select(Parcel)
            .join(Order, col(Parcel.order_id) == Order.id)
            .where(col(Order.number).in_([str(n) for n in range(3001, 3021)]))
            .order_by(col(Order.number))
        ).all()
        now = datetime.now(UTC)
        for k, parcel in zip(itertools.count(), clean, strict=False):
            assert parcel.closed_at is not None
            parcel.closed_at = now - timedelta(days=1 + k % 10)
            parcel.opened_at = parcel.closed_at - timedelta(minutes=3)
            if parcel.shipped_at is not None:
                parcel.shipped_at = parcel.closed_at + timedelta(hours=1)
        session.flush()
        rebuild(session, zone)
        session.commit()
    return live_server


def _parcel(engine: Engine, order: str) -> int:
    with session_for(engine, write=False) as session:
        return session.exec(
            select(Parcel.id)
            .join(Order, col(Parcel.order_id) == Order.id)
            .where(Order.number == order)
        ).one()


def log_in(page: Page, server: LiveServer, key: str, query: str = "") -> None:
    page.goto(f"{server.url}/dashboard{query}")
    expect(page.locator("#key")).to_be_focused()
    page.keyboard.insert_text(key)
    page.keyboard.press("Enter")


def ready(page: Page) -> None:
    expect(page.locator("#dashboard")).to_have_attribute("data-state", "ready")


def tile(page: Page, metric: str) -> str:
    return page.locator(f".tile[data-metric='{metric}'] .value").inner_text()


def period(days: int) -> str:
    return f"?from={TODAY - timedelta(days=days - 1)}&to={TODAY}"


def test_the_dashboard_shows_the_history(page: Page, history: LiveServer, output_dir: Path) -> None:
    # Given a manager logged in for the last 28 days
    log_in(page, history, history.world.keys["manager"], period(28))
    ready(page)
    expect(page.locator("#who")).to_contain_text("manager-user")
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []

    # Then the tiles count what was packed, against an empty period before
    assert tile(page, "parcels_closed") == "25"
    assert tile(page, "first_pass_yield") == "80.0 %"
    assert tile(page, "defects_caught") == "5"
    assert tile(page, "defects_escaped") == "1"
    assert tile(page, "caught_share") == "83.3 %"
    assert tile(page, "parcels_shipped") == "1"
    expect(page.locator(".tile[data-metric='parcels_closed'] .change")).to_contain_text("▲ +25")
    expect(page.locator(".tile[data-metric='first_pass_yield'] .change")).to_contain_text(
        "no comparison"
    )

    # The p-chart: a point per day with parcels, today's (all five with a defect) out of control
    rate = page.locator("#sec-rate [data-chart='rate'] svg")
    expect(rate.locator("circle.point")).to_have_count(11)
    expect(rate.locator("circle.point.ooc")).to_have_count(1)
    assert rate.locator("circle.point.ooc").get_attribute("data-key") == TODAY.isoformat()
    expect(rate.locator("path.limit.upper")).to_have_count(1)

    # The Paretos: bars most first, labels as text (kinds in words on the chart)
    sku = page.locator("#sec-sku svg rect.bar")
    expect(sku).to_have_count(3)
    assert sku.first.get_attribute("data-key") == "CABLE"
    expect(page.locator("#sec-kind svg")).to_contain_text("missing item")
    page.locator("#sec-sku summary").click()
    expect(page.locator("[data-table='sku'] tbody tr").first).to_contain_text("CABLE")

    # Out of control: BENCH-2 and its packer, above their upper limit; the confusion pair
    stations = page.locator("[data-table='ooc-stations'] tbody tr")
    expect(stations).to_have_count(1)
    expect(stations).to_contain_text("BENCH-2")
    expect(stations).to_contain_text("above the upper limit")
    expect(page.locator("[data-table='ooc-packers'] tbody tr")).to_contain_text("dana")
    expect(page.locator("[data-table='confusions'] tbody tr")).to_have_text(
        ["CABLEPHONE1"], use_inner_text=False
    )
    packers = page.locator("[data-table='packers'] tbody tr")
    expect(packers).to_have_count(2)
    expect(page.locator("#sec-packers .coaching")).to_contain_text("not for punishment")
    screenshot(page, output_dir, "overview", full=True)
    screenshot(page, output_dir, "top")

    # A CSV: fetched with the key, saved by the browser
    with page.expect_download() as download:
        page.locator("a[data-csv='sku']").click()
    assert download.value.suggested_filename == f"sku-{TODAY - timedelta(days=27)}-to-{TODAY}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["key"], r["defects"]) for r in rows] == [
        ("CABLE", "4"),
        ("MUG", "1"),
        ("PHONE", "1"),
    ]
    with page.expect_download() as download:
        page.locator("a[data-csv='rate']").click()
    days = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(days) == 28 and days[-1]["key"] == TODAY.isoformat()


def test_filters_change_the_figures(page: Page, history: LiveServer, output_dir: Path) -> None:
    log_in(page, history, history.world.keys["manager"], period(28))
    ready(page)
    assert tile(page, "parcels_closed") == "25"

    # One bench: everything narrows to its four held parcels
    page.locator("#f-station").fill("BENCH-2")
    page.locator("#f-station").press("Enter")
    ready(page)
    assert tile(page, "parcels_closed") == "4"
    assert tile(page, "first_pass_yield") == "0.0 %"
    expect(page.locator("#sec-rate svg circle.point")).to_have_count(1)
    expect(page.locator("#sec-sku svg rect.bar")).to_have_count(1)
    expect(page.locator("[data-table='packers'] tbody tr")).to_have_count(1)
    assert "station=BENCH-2" in page.url
    screenshot(page, output_dir, "bench-2")

    # Every bench, one kind of defect: the Pareto holds only the wrong item
    page.locator("#f-station").fill("")
    page.locator("#f-station").press("Enter")
    ready(page)
    page.locator("#f-kind").select_option("wrong_item")
    ready(page)
    expect(page.locator("#sec-sku svg rect.bar")).to_have_count(1)
    assert page.locator("#sec-sku svg rect.bar").get_attribute("data-key") == "PHONE"
    expect(page.locator("#filter-note")).to_contain_text("narrows every defect count")

    # Escaped only: the one damaged mug
    page.locator("#f-kind").select_option("")
    page.locator("#f-stage").select_option("escaped")
    ready(page)
    expect(page.locator("#sec-kind svg rect.bar")).to_have_count(1)
    assert page.locator("#sec-kind svg rect.bar").get_attribute("data-key") == "damaged item"

    # The last 7 days: the clean parcels of the days before drop out
    page.locator("#f-stage").select_option("all")
    ready(page)
    browser_today = page.evaluate("new Date().toLocaleDateString('sv')")
    page.get_by_role("button", name="7 days").click()
    ready(page)
    expect(page.get_by_role("button", name="7 days")).to_have_attribute("aria-pressed", "true")
    assert page.locator("#f-to").input_value() == browser_today
    if browser_today == TODAY.isoformat():  # the browser's day is the warehouse's
        assert tile(page, "parcels_closed") == "17"
        expect(page.locator("#sec-rate svg circle.point")).to_have_count(7)

    # A period long before: nothing, said plainly
    page.locator("#f-from").fill(str(TODAY - timedelta(days=400)))
    page.locator("#f-to").fill(str(TODAY - timedelta(days=300)))
    page.locator("#filters button[type=submit]").click()
    ready(page)
    assert tile(page, "parcels_closed") == "0"
    expect(page.locator("#sec-sku svg")).to_contain_text("No data for this period")
    expect(page.locator("#sec-rate svg")).to_contain_text("No data for this period")
    expect(page.locator("[data-table='confusions']")).to_contain_text("No wrong items")
    screenshot(page, output_dir, "empty-period")

    # The filters are in the address: a reload (the key is still in the tab) shows the same
    page.reload()
    ready(page)
    assert page.locator("#f-from").input_value() == str(TODAY - timedelta(days=400))
    assert tile(page, "parcels_closed") == "0"


def test_only_a_manager_gets_in(page: Page, live_server: LiveServer, output_dir: Path) -> None:
    for who in ("support", "supervisor", "packer", "admin", "station"):
        log_in(page, live_server, live_server.world.keys[who])
        expect(page.locator("#status")).to_contain_text("needs a manager's key")
        expect(page.locator("#dashboard")).to_be_hidden()
        assert page.evaluate("sessionStorage.length") == 0
    screenshot(page, output_dir, "refused")

    log_in(page, live_server, "qc_not-a-real-key")
    expect(page.locator("#status")).to_contain_text("That key is not valid")
    expect(page.locator("#login")).to_be_visible()

    # A manager whose key is revoked while the page is open is sent back to the login
    log_in(page, live_server, live_server.world.keys["manager"])
    ready(page)
    screenshot(page, output_dir, "empty")
    page.evaluate("sessionStorage.setItem('qc.dashboard.key', 'qc_revoked')")
    page.reload()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("log in again")
    assert page.evaluate("sessionStorage.length") == 0


def test_the_page_and_its_assets_are_served_without_a_key(client: TestClient) -> None:
    check_served(client, "dashboard")
