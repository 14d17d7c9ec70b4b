"""The packer's page at /station: pack a demo order by keyboard in headless Chromium.

Everything is driven from the keyboard, as at a bench with a keyboard-wedge scanner: a scan
is the code typed into the focused field, then Enter. No mouse click anywhere.
"""

import os
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine
from sqlmodel import col, select

from api.db import session_for
from qc.models import Order, Parcel
from tests.e2e.conftest import VIEWPORT, LiveServer
from tests.factories import CABLE, MUG, PHONE, make_order, make_product
from tests.photo_images import jpeg, parcel_scene

GREEN = re.compile(r"\bok\b")
RED = re.compile(r"\bbad\b")


def screenshot(page: Page, output_dir: Path, step: str) -> None:
    """Save the screen as output_dir/station-<step>.png (atomically: workers share the folder)."""
    path = output_dir / f"station-{step}.png"
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(page.screenshot())
    partial.replace(path)


def log_in(page: Page, server: LiveServer, key: str | None = None) -> None:
    page.goto(f"{server.url}/station")
    expect(page.locator("#key")).to_be_focused()
    # The key is pasted (a long secret, as from a password manager); the badge is scanned.
    page.keyboard.insert_text(key or server.world.keys["station"])
    page.keyboard.press("Tab")
    page.keyboard.type("P-001")
    page.keyboard.press("Enter")


def scan(page: Page, code: str) -> None:
    """What a keyboard-wedge scanner does: type the code into the focused field, then Enter."""
    expect(page.locator("#scan")).to_be_focused()
    seq = page.locator("#banner").get_attribute("data-seq") or "0"
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    # Wait for this scan's own answer, not the previous one.
    expect(page.locator("#banner")).not_to_have_attribute("data-seq", seq)


def line(page: Page, sku: str) -> Locator:
    return page.locator(f"#lines-body tr[data-sku='{sku}']")


def test_pack_a_demo_order_by_keyboard(
    page: Page, live_server: LiveServer, output_dir: Path, tmp_path: Path, live_engine: Engine
) -> None:
    banner = page.locator("#banner")

    # Given a packer logged in with the bench's key and a badge
    log_in(page, live_server)
    expect(banner).to_contain_text("Scan the packing slip")
    expect(page.locator("#who")).to_contain_text("BENCH-1")
    expect(page.locator("#scan")).to_be_focused()
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    screenshot(page, output_dir, "login")

    # When the slip and every item are scanned
    scan(page, "1001")
    expect(banner).to_have_class(GREEN)
    expect(banner).to_contain_text("Order 1001")
    expect(page.locator("#scan-label")).to_have_text("Scan an item")
    expect(line(page, "MUG")).to_contain_text("0 of 2")

    scan(page, MUG)
    expect(banner).to_have_class(GREEN)
    expect(banner).to_contain_text("OK MUG: 1 of 2")
    expect(line(page, "MUG")).to_contain_text("1 of 2")
    assert banner.get_attribute("data-sound") == "ok"
    scan(page, MUG)
    expect(line(page, "MUG")).to_contain_text("2 of 2")
    scan(page, CABLE)
    expect(banner).to_have_class(GREEN)
    expect(banner).to_contain_text("all items scanned")
    expect(line(page, "CABLE")).to_contain_text("1 of 1")
    expect(page.locator("#order-info")).to_contain_text("all scanned")

    # Then a wrong item is refused in red and nothing is counted
    scan(page, PHONE)
    expect(banner).to_have_class(RED)
    expect(banner).to_contain_text("Wrong item")
    expect(banner).to_contain_text("Nothing was counted")
    assert banner.get_attribute("data-sound") == "bad"
    expect(line(page, "MUG")).to_contain_text("2 of 2")
    expect(line(page, "CABLE")).to_contain_text("1 of 1")
    expect(page.locator("#lines-body tr[data-sku='PHONE']")).to_have_count(0)
    screenshot(page, output_dir, "wrong-item")

    # The photo: F4 opens the file chooser (a tablet's camera app), the server checks it;
    # a featureless one cannot serve as evidence, and the packer reads why
    blank = tmp_path / "blank.jpg"
    blank.write_bytes(jpeg(np.full((600, 800, 3), 128, np.uint8)))
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("F4")
    chooser.value.set_files(blank)
    expect(banner.locator("#banner-text")).to_have_text("Photo not usable: take it again")
    expect(banner).to_have_class(RED)
    expect(page.locator("#banner-detail")).to_contain_text("blurred")
    expect(page.locator("#photo-status")).to_contain_text("none yet")

    photo = tmp_path / "parcel.jpg"
    photo.write_bytes(jpeg(parcel_scene(1600, 1200, codes=(MUG,))))
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("F4")
    chooser.value.set_files(photo)
    expect(banner).to_contain_text("Photo saved")
    expect(banner).to_have_class(GREEN)
    expect(page.locator("#photo-status")).to_contain_text("taken")
    expect(page.locator("#scan")).to_be_focused()
    screenshot(page, output_dir, "photo")

    # Closing passes the parcel, and the page waits for the next slip
    page.keyboard.press("F8")
    expect(banner).to_contain_text("Passed: order 1001")
    expect(banner).to_have_class(GREEN)
    expect(page.locator("#scan-label")).to_have_text("Scan the packing slip")
    expect(page.locator("#scan")).to_be_focused()
    screenshot(page, output_dir, "closed")

    # The server agrees: one parcel, passed, three counted scans and one refused, one photo
    with session_for(live_engine, write=False) as session:
        # Not always 1: PostgreSQL's sequences go on across tests
        parcel_id = session.exec(
            select(Parcel.id)
            .join(Order, col(Parcel.order_id) == Order.id)
            .where(Order.number == "1001")
        ).one()
    support = httpx.get(
        f"{live_server.url}/api/v1/parcels/{parcel_id}",
        headers=live_server.world.auth("supervisor"),
    )
    assert support.status_code == 200, support.text
    body = support.json()
    assert body["status"] == "passed"
    assert [s["result"] for s in body["scans"]].count("accepted") == 3
    assert [s["result"] for s in body["scans"]].count("wrong_item") == 1
    assert len(body["photos"]) == 1


def test_a_parcel_missing_a_unit_is_held_and_says_why(
    page: Page, live_server: LiveServer, output_dir: Path
) -> None:
    banner = page.locator("#banner")
    log_in(page, live_server)
    scan(page, "1001")
    scan(page, MUG)
    scan(page, CABLE)
    expect(line(page, "MUG")).to_contain_text("1 to scan")

    page.keyboard.press("F8")
    expect(banner).to_have_class(RED)
    expect(banner).to_contain_text("Held: missing item MUG ×1")
    expect(banner).to_contain_text("supervisor")
    expect(page.locator("#order-info")).to_contain_text("held")
    expect(page.locator("#scan")).to_be_focused()
    screenshot(page, output_dir, "held")

    # The held order cannot be packed again until a supervisor releases it; the page says so
    scan(page, "1001")
    expect(banner).to_have_class(RED)
    expect(banner).to_contain_text("held")


def test_damaged_and_short_shipped_units_by_keyboard(page: Page, live_server: LiveServer) -> None:
    banner = page.locator("#banner")
    log_in(page, live_server)
    scan(page, "1001")
    scan(page, MUG)
    scan(page, MUG)
    scan(page, CABLE)

    # F2 offers the last scanned item; Enter confirms
    page.keyboard.press("F2")
    expect(page.locator("#damaged-dialog")).to_be_visible()
    expect(page.locator("#damaged-sku")).to_have_value("CABLE")
    page.keyboard.press("Enter")
    expect(banner).to_contain_text("CABLE ×1 flagged damaged")
    expect(line(page, "CABLE")).to_contain_text("replace 1 damaged")
    expect(page.locator("#scan")).to_be_focused()

    # No replacement in stock: F3 offers the missing unit with a reason
    page.keyboard.press("F3")
    expect(page.locator("#short-sku")).to_have_value("CABLE")
    expect(page.locator("#short-qty")).to_have_value("1")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("no stock left")
    page.keyboard.press("Enter")
    expect(banner).to_contain_text("CABLE ×1 will ship short")
    expect(line(page, "CABLE")).to_contain_text("1 short")

    # Esc leaves a dialog without doing anything
    page.keyboard.press("F2")
    expect(page.locator("#damaged-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#damaged-dialog")).to_be_hidden()
    expect(page.locator("#scan")).to_be_focused()

    page.keyboard.press("F8")
    expect(banner).to_contain_text("Passed: order 1001")


def test_an_order_of_eight_lines_fits_the_screen(
    page: Page, live_server: LiveServer, live_engine: Engine, output_dir: Path, tmp_path: Path
) -> None:
    """1280x800 without scrolling: eight lines, a two-line answer and the photo's thumbnail."""
    with session_for(live_engine, write=True) as session:
        for n in range(1, 4):
            name = f"Stainless steel water bottle {n}, 750 ml, matt black with bamboo lid"
            make_product(session, sku=f"BOTTLE-{n}", barcodes=[f"INT-B{n}"], name=name)
        lines = [("MUG", 2), ("CABLE", 1), ("TEA", 1), ("BODY", 1), ("LID", 1)]
        make_order(session, number="2001", lines=[*lines, *((f"BOTTLE-{n}", 1) for n in (1, 2, 3))])
        session.commit()
    log_in(page, live_server)
    scan(page, "2001")
    expect(page.locator("#lines-body tr")).to_have_count(8)
    photo = tmp_path / "parcel.jpg"
    photo.write_bytes(jpeg(parcel_scene(1600, 1200, codes=(MUG,))))
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("F4")
    chooser.value.set_files(photo)
    expect(page.locator("#photo-thumb")).to_be_visible()
    scan(page, PHONE)
    expect(page.locator("#banner")).to_contain_text("Wrong item")
    screenshot(page, output_dir, "eight-lines")

    size = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size == [VIEWPORT["width"], VIEWPORT["height"]]
    for element in ("#lines-body tr:last-child", "#photo-thumb", "#act-leave"):
        box = page.locator(element).bounding_box()
        assert box is not None and box["y"] + box["height"] <= VIEWPORT["height"], element


def test_the_camera_takes_the_photo(page: Page, live_server: LiveServer, output_dir: Path) -> None:
    """F7 opens the camera (Chromium's fake one), Enter takes the picture and uploads it."""
    page.context.grant_permissions(["camera"])
    log_in(page, live_server)
    scan(page, "1001")
    page.keyboard.press("F7")
    dialog = page.locator("#camera-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("button[value=ok]")).to_be_focused()
    for _ in range(100):  # the first frame, before the snapshot
        if page.evaluate("document.getElementById('camera-video').videoWidth"):
            break
        page.wait_for_timeout(20)
    screenshot(page, output_dir, "camera")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    # The fake camera films a test pattern that the quality gate may refuse: either way the
    # upload reached the server and the packer reads its verdict.
    expect(page.locator("#banner-text")).to_have_text(re.compile("Photo saved|Photo not usable"))
    expect(page.locator("#scan")).to_be_focused()
    assert page.evaluate("document.getElementById('camera-video').srcObject") is None


def test_a_bad_key_is_refused_at_login(page: Page, live_server: LiveServer) -> None:
    banner = page.locator("#banner")
    log_in(page, live_server, key="qc_not-a-real-key")
    expect(banner).to_have_class(RED)
    expect(banner).to_contain_text("That key is not valid")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#work")).to_be_hidden()
    expect(page.locator("#key")).to_be_focused()

    # A person's key is not a bench's key either
    page.keyboard.insert_text(live_server.world.keys["packer"])
    page.keyboard.press("Enter")
    expect(banner).to_contain_text("not a station key")
    expect(page.locator("#work")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_page_and_its_assets_are_served(client: TestClient) -> None:
    page = client.get("http://testserver/station")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert '<html lang="en">' in html
    assert 'aria-live="assertive"' in html
    for asset, kind in (("station.js", "javascript"), ("station.css", "text/css")):
        url = re.search(rf'"(/static/{asset}\?v=\w+)"', html)
        assert url is not None, asset
        served = client.get(f"http://testserver{url[1]}")
        assert served.status_code == 200
        assert kind in served.headers["content-type"]
    assert client.get("http://testserver/static/nothing.js").status_code == 404
    assert client.get("http://testserver/static/../pages.py").status_code == 404


@pytest.mark.parametrize("path", ["/station", "/static/station.js"])
def test_the_page_needs_no_key(client: TestClient, path: str) -> None:
    assert client.get(f"http://testserver{path}").status_code == 200
