"""The support desk at /support, in headless Chromium, on a parcel packed through the API.

Order 1001 is packed at BENCH-1 as a bench does it (two mugs and a cable scanned), photographed
three times through POST /parcels/{id}/photos (a mug's label in each; a phone, not in the
order, beside it in the second; the packing slip's Code 128 in the third, the one that counts),
closed (it passes) and shipped. Retention then deletes the first photo. Order
SO-1001, for the same customer (CUST-7), was never packed.
"""

import io
import json
import os
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import httpx
import numpy as np
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine

from api.db import session_for
from api.settings import get_settings
from qc.models import Photo
from qc.photos import mark_purged
from tests.e2e.conftest import LiveServer
from tests.e2e.office_pages import check_served
from tests.factories import CABLE, MUG, PHONE, make_order
from tests.photo_images import jpeg, parcel_scene

TRACKING = "TRK-1001-AB"


@dataclass
class Desk:
    server: LiveServer
    parcel_id: int
    photos: list[int]  # oldest first: purged, with a foreign phone, the one that counts

    @property
    def url(self) -> str:
        return self.server.url

    def key(self, who: str) -> str:
        return self.server.world.keys[who]

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=self.server.world.auth(who))


def screenshot(page: Page, output_dir: Path, step: str, *, full: bool = False) -> None:
    """Save the page as output_dir/support-<step>.png (atomically: workers share the folder)."""
    path = output_dir / f"support-{step}.png"
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(page.screenshot(full_page=full))
    partial.replace(path)


def packing_photo(*, seed: int, codes: tuple[str, ...] = (MUG,), slip: str | None = None) -> bytes:
    """The open parcel from above: items' EAN-13 labels, and the packing slip's Code 128."""
    image = parcel_scene(1600, 1200, codes=codes, seed=seed)
    if slip is not None:
        code = zxingcpp.create_barcode(slip, zxingcpp.BarcodeFormat.Code128)
        label = np.array(code.to_image(scale=4))
        label = cv2.copyMakeBorder(label, 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=255)
        h, w = label.shape
        x, y = 1600 - w - 100, 140
        image[y : y + h, x : x + w] = cv2.cvtColor(label, cv2.COLOR_GRAY2BGR)
    return jpeg(image)


@pytest.fixture
def desk(live_server: LiveServer, live_engine: Engine) -> Desk:
    world = live_server.world
    with session_for(live_engine, write=True) as session:
        make_order(session, number="SO-1001", lines=[("TEA", 1)], customer_ref="CUST-7")
        session.commit()
    with httpx.Client(base_url=f"{live_server.url}/api/v1", headers=world.auth("station")) as api:
        opened = api.post("/parcels", json={"order": "1001", "packer": "P-001"})
        assert opened.status_code == 201, opened.text
        parcel_id = opened.json()["id"]
        for code in (MUG, MUG, CABLE):
            scan = {"code": code, "source": "scanner", "event_id": str(uuid.uuid4())}
            answer = api.post(f"/parcels/{parcel_id}/scans", json=scan)
            assert answer.json()["result"] == "accepted", answer.text
        photos = []
        shots = [
            packing_photo(seed=3),
            packing_photo(seed=5, codes=(MUG, PHONE)),
            packing_photo(seed=1, slip="1001"),
        ]
        for data in shots:
            files = {"file": ("parcel.jpg", data, "image/jpeg")}
            uploaded = api.post(f"/parcels/{parcel_id}/photos", files=files)
            assert uploaded.status_code == 201, uploaded.text
            photos.append(uploaded.json()["id"])
        closed = api.post(f"/parcels/{parcel_id}/close")
        assert closed.json()["status"] == "passed", closed.text
        shipped = api.post(f"/parcels/{parcel_id}/ship", json={"tracking_number": TRACKING})
        assert shipped.status_code == 200, shipped.text
    with session_for(live_engine, write=True) as session:
        mark_purged(session, [session.get_one(Photo, photos[0])], actor="retention")
        session.commit()
    return Desk(server=live_server, parcel_id=parcel_id, photos=photos)


def log_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/support")
    expect(page.locator("#key")).to_be_focused()
    page.keyboard.insert_text(key)
    page.keyboard.press("Enter")


def search(page: Page, query: str) -> Locator:
    """Type the query into the search box as typed, press Enter; the result rows."""
    page.keyboard.press("/")  # from anywhere but a field: back to the search box
    box = page.locator("#q")
    expect(box).to_be_focused()
    box.fill("")
    page.keyboard.type(query)
    page.keyboard.press("Enter")
    expect(page.locator("#results")).to_have_attribute("data-state", "ready")
    expect(page.locator("#results-body")).to_contain_text(f"“{query.strip()}”")
    return page.locator("#results tbody tr")


def parcel_ready(page: Page, parcel_id: int) -> None:
    expect(page.locator("#parcel")).to_have_attribute("data-state", "ready")
    expect(page.locator("#h-parcel")).to_have_text(f"Parcel {parcel_id} · order 1001")


def photo_shown(page: Page) -> None:
    page.wait_for_function(
        "() => { const i = document.getElementById('photo-img');"
        " return i.complete && i.naturalWidth > 0; }"
    )


def width(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return box["width"]


def escaped_today(desk: Desk) -> int:
    today = datetime.now(ZoneInfo(get_settings().timezone)).date().isoformat()
    with desk.api("manager") as api:
        summary = api.get("/stats/summary", params={"from": today, "to": today})
    assert summary.status_code == 200, summary.text
    return summary.json()["current"]["defects_escaped"]


def test_find_a_parcel_and_look_at_its_photo(page: Page, desk: Desk, output_dir: Path) -> None:
    # Given a support agent logged in
    log_in(page, desk.url, desk.key("support"))
    expect(page.locator("#who")).to_contain_text("Support: support-user")
    expect(page.locator("#q")).to_be_focused()
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []

    # The order number as customers type it: a '#', spaces, either case
    for query in ("# 1001", "#1001 "):
        rows = search(page, query)
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("CUST-7")
        expect(rows.first).to_contain_text(TRACKING)
        expect(rows.first).to_contain_text("BENCH-1")
        expect(rows.first).to_contain_text("shipped")
    for query in ("# so-1001", "# SO-1001", "So-1001"):
        rows = search(page, query)
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("SO-1001")
        expect(rows.first).to_contain_text("no parcel yet")
    rows = search(page, "# 9999")
    expect(rows).to_have_count(0)
    expect(page.locator("#results-body")).to_contain_text("Nothing matches")

    # The tracking number, in either case: one parcel, opened at once
    for query in (TRACKING.lower(), TRACKING.upper()):
        rows = search(page, query)
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("tracking number")
        parcel_ready(page, desk.parcel_id)
        expect(rows.first).to_have_attribute("aria-current", "true")

    # The customer's reference: both orders, the packed one opened by keyboard
    rows = search(page, "cust-7")
    expect(rows).to_have_count(2)
    expect(rows).to_contain_text(["customer reference", "customer reference"])
    expect(page.locator("#results tbody tr:not([data-parcel=''])")).to_contain_text("1001")
    expect(page.locator("#results tbody tr[data-parcel='']")).to_contain_text("SO-1001")
    screenshot(page, output_dir, "results")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#results button.open")).to_be_focused()
    page.keyboard.press("Enter")
    parcel_ready(page, desk.parcel_id)
    expect(page.locator("#h-parcel")).to_be_focused()
    expect(page.locator("#p-status")).to_have_text("shipped")
    expect(page.locator("#p-facts")).to_contain_text(TRACKING)
    expect(page.locator("#p-facts")).to_contain_text("CUST-7")

    # The newest photo, large, with the codes seen outlined: the mug green, the slip grey
    photo_shown(page)
    assert page.locator("#viewer").get_attribute("data-photo") == str(desk.photos[2])
    outlines = page.locator("#outlines g.code")
    expect(outlines.first).to_be_visible()
    assert outlines.count() >= 1
    mug = page.locator("#outlines g.code.expected[data-sku='MUG']")
    expect(mug).to_have_count(1)
    expect(mug.locator("text")).to_have_text("MUG")
    expect(page.locator("#outlines g.code.slip")).to_have_count(1)
    expect(page.locator("#outlines g.code.foreign")).to_have_count(0)
    expect(page.locator("#legend")).to_contain_text("MUG · in the order")
    expect(page.locator("#legend")).to_contain_text("slip 1001 · the packing slip")
    image, polygon = page.locator("#photo-img"), mug.locator("polygon")
    # The outline lies on the label: inside the image, a fair part of its width
    img_box, poly_box = image.bounding_box(), polygon.bounding_box()
    assert img_box is not None and poly_box is not None
    assert (
        img_box["x"] <= poly_box["x"]
        and poly_box["x"] + poly_box["width"] <= img_box["x"] + img_box["width"]
    )
    assert 0.1 < poly_box["width"] / img_box["width"] < 0.3
    screenshot(page, output_dir, "parcel")

    # Zoom: the + key, the button, the wheel; the outline grows with the photo; 0 fits again
    fitted, fitted_outline = width(image), width(polygon)
    page.locator("#viewer").focus()
    page.keyboard.press("+")
    expect(page.locator("#viewer")).not_to_have_attribute("data-zoom", "1.000")
    assert width(image) == pytest.approx(fitted * 1.25, rel=0.01)
    assert width(polygon) == pytest.approx(fitted_outline * 1.25, rel=0.05)
    page.locator("#zoom-in").click()
    assert width(image) == pytest.approx(fitted * 1.25**2, rel=0.01)
    page.locator("#viewer").hover()
    page.mouse.wheel(0, -100)
    expect(page.locator("#viewer")).to_have_attribute("data-zoom", "1.953")
    assert width(image) > fitted * 1.9
    page.keyboard.press("-")  # on the zoom button just clicked: the keys work there too
    expect(page.locator("#viewer")).to_have_attribute("data-zoom", "1.563")
    # Drag to pan: the photo moves with the pointer
    before, frame = image.bounding_box(), page.locator("#viewer").bounding_box()
    assert before is not None and frame is not None
    x, y = frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 40, y - 30, steps=4)
    page.mouse.up()
    after = image.bounding_box()
    assert after is not None and after["x"] < before["x"] and after["y"] < before["y"]
    page.locator("#viewer").focus()
    page.keyboard.press("0")
    expect(page.locator("#viewer")).to_have_attribute("data-zoom", "1.000")
    assert width(image) == pytest.approx(fitted, rel=0.01)
    expect(page.locator("#zoom-out")).to_be_disabled()

    # Three photos: thumbnails; the first was deleted by retention, and says so
    thumbs = page.locator("#thumbs button.thumb")
    expect(thumbs).to_have_count(3)
    expect(thumbs.nth(2)).to_have_attribute("aria-pressed", "true")
    expect(thumbs.nth(0)).to_contain_text("deleted by retention")
    thumbs.nth(0).click()
    expect(page.locator("#viewer-empty")).to_contain_text("deleted by retention")
    expect(page.locator("#photo-img")).to_be_hidden()
    expect(page.locator("#legend")).to_contain_text("MUG")  # what was read in it remains

    # The second shows a phone that is not in the order: outlined in red, and said
    thumbs.nth(1).click()
    photo_shown(page)
    phone = page.locator("#outlines g.code.foreign[data-sku='PHONE']")
    expect(phone).to_have_count(1)
    expect(phone.locator("text")).to_have_text("PHONE")
    expect(page.locator("#outlines g.code.expected[data-sku='MUG']")).to_have_count(1)
    expect(page.locator("#legend")).to_contain_text("PHONE · not in this order")
    expect(page.locator("#legend .warning")).to_contain_text("PHONE, which is not in this order")
    screenshot(page, output_dir, "foreign-code")
    thumbs.nth(2).click()
    photo_shown(page)
    expect(page.locator("#outlines g.code")).to_have_count(2)

    # The timeline lists every scan, the photos, the closing and the shipping
    timeline = page.locator("#timeline li")
    scans = page.locator("#timeline li[data-event='scan']")
    expect(scans).to_have_count(3)
    expect(scans.nth(0)).to_contain_text(f"{MUG} → accepted")
    expect(scans.nth(2)).to_contain_text(f"{CABLE} → accepted")
    expect(page.locator("#timeline li[data-event='photo']")).to_have_count(3)
    expect(timeline.first).to_contain_text("opened")
    expect(timeline.last).to_contain_text(TRACKING)

    # Lines, no defects yet
    expect(page.locator("#lines tr[data-sku='MUG']")).to_contain_text("2")
    expect(page.locator("#lines tr[data-sku='CABLE']")).to_contain_text("complete")
    expect(page.locator("#defects")).to_contain_text("No defect recorded")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top of the picture
    screenshot(page, output_dir, "parcel-full", full=True)

    # A reload (the key is still in the tab) shows the same parcel
    page.reload()
    parcel_ready(page, desk.parcel_id)
    assert page.locator("#q").input_value() == "cust-7"


def test_record_and_resolve_a_complaint(page: Page, desk: Desk, output_dir: Path) -> None:
    escaped_before = escaped_today(desk)
    log_in(page, desk.url, desk.key("support"))
    search(page, TRACKING)
    parcel_ready(page, desk.parcel_id)
    expect(page.locator("#complaints")).to_contain_text("No complaint about this parcel")

    # The SKU is offered from the parcel's lines
    options = page.locator("#c-skus option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == [
        "MUG",
        "CABLE",
    ]

    # When a missing mug is recorded, by keyboard
    page.locator("#c-kind").select_option("missing")
    page.locator("#c-sku").fill("MUG")
    page.locator("#c-qty").fill("1")
    page.locator("#c-note").fill("Customer says one mug was not in the box")
    page.locator("#c-submit").focus()
    page.keyboard.press("Enter")

    # Then it shows, marked new, with its flags: an escaped defect, and a photo that shows
    # the mug; nothing links it to an override (the parcel passed QC)
    expect(page.locator("#status")).to_contain_text("recorded for parcel")
    card = page.locator("#complaints .complaint")
    expect(card).to_have_count(1)
    expect(card).to_be_focused()
    expect(card).to_have_class(re.compile(r"\bnew\b"))
    expect(card).to_contain_text("just recorded")
    expect(card.locator(".flag.escaped")).to_have_text(
        "escaped defect recorded: missing item MUG ×1"
    )
    expect(card.locator(".flag.evidence")).to_be_visible()
    expect(card.locator(".flag.repeat")).to_have_count(0)
    expect(card.locator(".flag.override")).to_have_count(0)
    expect(card).to_have_attribute("data-status", "open")
    expect(card).to_contain_text("item missing MUG ×1")
    expect(card).to_contain_text("Customer says one mug was not in the box")
    complaint_id = card.get_attribute("data-complaint")
    assert complaint_id is not None
    expect(page.locator("#defects tr.escaped")).to_contain_text("missing item")
    expect(page.locator("#timeline li[data-event='complaint']")).to_have_count(1)
    expect(page.locator("#c-sku")).to_have_value("")  # the form is ready for another
    screenshot(page, output_dir, "complaint")

    # The statistics count it as an escaped defect
    assert escaped_today(desk) == escaped_before + 1

    # Resolved with a refund
    resolve = card.locator("form.resolve")
    resolve.locator("select").select_option("refund")
    resolve.locator("input[name='note']").fill("refunded one mug")
    resolve.get_by_role("button", name="Resolve").click()
    expect(card).to_have_attribute("data-status", "resolved")
    expect(card).to_contain_text("Resolved (refund) by support-user")
    expect(card.locator("form.resolve")).to_have_count(0)
    expect(card).to_be_focused()
    expect(page.locator("#timeline li[data-event='complaint_resolved']")).to_have_count(1)
    with desk.api("support") as api:
        stored = api.get(f"/complaints/{complaint_id}").json()
    assert (stored["status"], stored["resolution"]) == ("resolved", "refund")
    assert stored["resolution_note"] == "refunded one mug"
    screenshot(page, output_dir, "complaint-resolved")

    # A complaint the server refuses says why, and records nothing
    page.locator("#c-sku").fill("NO-SUCH-SKU")
    page.locator("#c-submit").click()
    expect(page.locator("#c-error")).to_contain_text("NO-SUCH-SKU")
    expect(card).to_have_count(1)
    with desk.api("support") as api:
        listed = api.get("/complaints", params={"parcel_id": desk.parcel_id}).json()
    assert listed["total"] == 1


def test_evidence_download_and_share_link(page: Page, desk: Desk, output_dir: Path) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=desk.url)
    log_in(page, desk.url, desk.key("support"))
    search(page, "# 1001")
    parcel_ready(page, desk.parcel_id)

    # The ZIP: fetched with the key, saved by the browser
    with page.expect_download() as download:
        page.get_by_role("button", name="Download evidence (ZIP)").click()
    assert download.value.suggested_filename == f"parcel-{desk.parcel_id}-evidence.zip"
    bundle = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["parcel_id"] == desk.parcel_id
    # Only the kept photos: the first was deleted by retention
    names = bundle.namelist()
    assert f"photos/photo-{desk.photos[1]}.jpg" in names
    assert f"photos/photo-{desk.photos[2]}.jpg" in names
    assert f"photos/photo-{desk.photos[0]}.jpg" not in names

    # The share link: copied, shown, and it works without a key
    page.locator("#ev-hours").select_option("24")
    page.get_by_role("button", name="Copy share link").click()
    expect(page.locator("#ev-note")).to_contain_text("Link copied")
    link = page.locator("#ev-link").input_value()
    assert re.match(
        rf"{re.escape(desk.url)}/api/v1/evidence/shared\?parcel={desk.parcel_id}&", link
    )
    assert page.evaluate("navigator.clipboard.readText()") == link
    shared = httpx.get(link)
    assert shared.status_code == 200
    assert shared.headers["content-type"] == "application/zip"
    screenshot(page, output_dir, "evidence")


def test_who_may_use_the_desk(page: Page, desk: Desk, output_dir: Path) -> None:
    # A wrong key is refused
    log_in(page, desk.url, "qc_not-a-real-key")
    expect(page.locator("#status")).to_contain_text("That key is not valid")
    expect(page.locator("#desk")).to_be_hidden()

    # A station's key, and users without support's work, are refused
    for who in ("station", "packer", "supervisor", "admin"):
        log_in(page, desk.url, desk.key(who))
        expect(page.locator("#status")).to_contain_text("needs a support or manager key")
        expect(page.locator("#desk")).to_be_hidden()
        assert page.evaluate("sessionStorage.length") == 0
    screenshot(page, output_dir, "refused")

    # A manager's key works
    log_in(page, desk.url, desk.key("manager"))
    expect(page.locator("#who")).to_contain_text("Manager: manager-user")
    rows = search(page, "#1001")
    expect(rows).to_have_count(1)
    parcel_ready(page, desk.parcel_id)
    photo_shown(page)

    # A key revoked while the page is open sends the agent back to the login
    page.evaluate("sessionStorage.setItem('qc.support.key', 'qc_revoked')")
    page.reload()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("log in again")
    assert page.evaluate("sessionStorage.length") == 0


def test_the_page_and_its_assets_are_served_without_a_key(client: TestClient) -> None:
    check_served(client, "support", allowed=("http://www.w3.org/2000/svg",))
