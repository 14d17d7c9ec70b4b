"""The outline of each code seen in a photo: kept with the photo, in the kept image's pixels."""

import numpy as np
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from sqlmodel import Session

from qc.models import Photo
from qc.photos import _outline
from qc.vision.decode import Code
from tests.api.test_packing import open_parcel
from tests.factories import MUG, World, make_world
from tests.photo_images import jpeg, parcel_scene


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def label_box(width: int, height: int) -> tuple[int, int, int, int]:
    """Where tests.photo_images.parcel_scene puts its first label's bars: x0, y0, x1, y1."""
    scale = max(3, width // 500)
    image = np.array(
        zxingcpp.create_barcode(MUG, zxingcpp.BarcodeFormat.EAN13).to_image(scale=scale)
    )
    h = image.shape[0]
    dark = np.argwhere(image < 128)  # the bars, without the quiet zones around them
    (top, left), (bottom, right) = dark.min(axis=0), dark.max(axis=0)
    x, y = 60 + 30, height // 2 - (h + 60) // 2 + 30  # inside the label's 30 px white border
    return x + int(left), y + int(top), x + int(right) + 1, y + int(bottom) + 1


def upload(client: TestClient, world: World, parcel_id: int, data: bytes) -> dict:
    answer = client.post(
        f"/parcels/{parcel_id}/photos",
        files={"file": ("parcel.jpg", data, "image/jpeg")},
        headers=world.auth("station"),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.mark.parametrize("size", [(1600, 1200), (3000, 2000)], ids=["kept-as-is", "scaled-down"])
def test_a_photo_keeps_the_outline_of_its_label(
    client: TestClient, world: World, session: Session, size: tuple[int, int]
) -> None:
    # Given a photo with a mug's label, at the kept size or larger (the server scales it down
    # to 2000 pixels long, and reads the codes in the image it keeps)
    width, height = size
    parcel = open_parcel(client, world)
    photo = upload(client, world, parcel["id"], jpeg(parcel_scene(width, height, codes=(MUG,))))

    # Then the code's corners lie inside the kept image, around the label
    factor = min(1.0, 2000 / max(width, height))
    assert (photo["width"], photo["height"]) == (round(width * factor), round(height * factor))
    [code] = photo["codes"]
    assert code["sku"] == "MUG"
    corners = code["corners"]
    assert len(corners) == 4
    for x, y in corners:
        assert 0 <= x < photo["width"] and 0 <= y < photo["height"]
    x0, y0, x1, y1 = (v * factor for v in label_box(width, height))
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    slack = 3  # pixels: rounding, and the JPEG's soft edges
    assert x0 - slack <= min(xs) and max(xs) <= x1 + slack
    assert y0 - slack <= min(ys) and max(ys) <= y1 + slack
    # From the first bar to the last, and a good part of the bars' height
    assert max(xs) - min(xs) >= 0.85 * (x1 - x0)
    assert max(ys) - min(ys) >= 0.5 * (y1 - y0)

    # Kept with the photo, and shown in the parcel's detail
    row = session.get_one(Photo, photo["id"])
    assert row.codes[0]["corners"] == corners
    detail = client.get(f"/parcels/{parcel['id']}", headers=world.auth("support"))
    assert detail.json()["photos"][0]["codes"][0]["corners"] == corners


def test_a_photo_recorded_before_outlines_were_kept_has_none(
    client: TestClient, world: World, session: Session
) -> None:
    parcel = open_parcel(client, world)
    photo = upload(client, world, parcel["id"], jpeg(parcel_scene(codes=(MUG,))))
    row = session.get_one(Photo, photo["id"])
    row.codes = [{k: v for k, v in c.items() if k != "corners"} for c in row.codes]
    session.add(row)
    session.flush()

    detail = client.get(f"/parcels/{parcel['id']}", headers=world.auth("support"))
    assert detail.status_code == 200, detail.text
    [code] = detail.json()["photos"][0]["codes"]
    assert code["sku"] == "MUG" and code["corners"] is None


def test_an_outline_is_kept_inside_the_image() -> None:
    code = Code("x", "QRCode", None, ((-2, 5), (1601, -1), (1600, 1200), (3, 1199)), "zxing", True)
    assert _outline(code, (1600, 1200)) == [[0, 5], [1599, 0], [1599, 1199], [3, 1199]]
