"""Preparing a parcel photo: type and size from the header, bombs, stripping, quality."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qc.errors import TooLarge, UnsupportedMedia
from qc.vision.photo import JPEG, PNG, QualityLimits, check_size, measure, prepare, sniff
from tests.photo_images import (
    GPS_MARK,
    jpeg,
    jpeg_claiming,
    parcel_scene,
    png,
    png_bomb,
    with_exif,
)

LIMITS = QualityLimits()


def prepared(data: bytes, max_side: int = 2000):
    return prepare(data, max_pixels=50_000_000, max_side=max_side, limits=LIMITS)


@pytest.mark.parametrize("size", [(640, 480), (4000, 3000), (1, 1), (65_000, 3)])
def test_the_header_gives_type_and_size(size: tuple[int, int]) -> None:
    width, height = size
    assert sniff(jpeg_claiming(width, height)).width == width
    head = sniff(jpeg_claiming(width, height))
    assert (head.media_type, head.height) == (JPEG, height)


def test_a_png_header_is_read() -> None:
    head = sniff(png(np.zeros((30, 50, 3), np.uint8)))
    assert (head.media_type, head.width, head.height) == (PNG, 50, 30)


@pytest.mark.parametrize(
    "data",
    [b"", b"GIF89a....", b"%PDF-1.7", b"\xff\xd8\xff" + b"\x00" * 20, b"\x89PNG\r\n\x1a\n"],
    ids=["empty", "gif", "pdf", "jpeg-without-frame", "png-without-header"],
)
def test_what_is_not_a_jpeg_or_png_is_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedMedia):
        sniff(data)


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_sniffing_any_bytes_answers_or_refuses_cleanly(data: bytes) -> None:
    try:
        head = sniff(data)
    except UnsupportedMedia:
        return
    assert head.media_type in (JPEG, PNG)


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = png_bomb()
    assert len(bomb) < 1_000_000  # small on the wire, 144 megapixels inside
    with pytest.raises(TooLarge) as refused:
        prepared(bomb)
    assert refused.value.code == "too_many_pixels"
    with pytest.raises(TooLarge):
        prepared(jpeg_claiming(20_000, 20_000))


def test_the_pixel_cap_is_inclusive() -> None:
    check_size(sniff(jpeg_claiming(1000, 1000)), max_pixels=1_000_000)
    with pytest.raises(TooLarge):
        check_size(sniff(jpeg_claiming(1001, 1000)), max_pixels=1_000_000)


def test_damaged_image_data_is_refused() -> None:
    data = jpeg(parcel_scene(320, 240))
    with pytest.raises(UnsupportedMedia):
        prepared(data[:400])


def test_exif_and_gps_are_stripped_and_orientation_is_applied() -> None:
    # Orientation 6: the camera was turned; the kept image is upright and carries no Exif.
    scene = parcel_scene(800, 600)
    upload = with_exif(jpeg(scene), orientation=6)
    assert GPS_MARK in upload
    photo = prepared(upload)
    assert GPS_MARK not in photo.jpeg and b"Exif" not in photo.jpeg
    assert (photo.width, photo.height) == (600, 800)
    assert b"Exif" not in photo.thumbnail


def test_a_large_photo_is_kept_at_the_configured_side_with_a_thumbnail() -> None:
    photo = prepared(jpeg(parcel_scene(4000, 3000)))
    assert (photo.width, photo.height) == (2000, 1500)
    thumb = cv2.imdecode(np.frombuffer(photo.thumbnail, np.uint8), cv2.IMREAD_COLOR)
    assert 250 <= max(thumb.shape[:2]) <= 400
    assert photo.gray.shape == (1500, 2000)


def test_a_png_is_kept_as_a_jpeg() -> None:
    photo = prepared(png(parcel_scene(640, 480)))
    assert photo.jpeg.startswith(b"\xff\xd8\xff")
    assert (photo.width, photo.height) == (640, 480)


def test_a_sharp_well_lit_photo_passes() -> None:
    quality = prepared(jpeg(parcel_scene())).quality
    assert quality.ok, quality
    assert quality.reasons == ()


def test_a_blurred_photo_fails_with_a_reason_for_the_packer() -> None:
    blurred = cv2.GaussianBlur(parcel_scene(), (0, 0), 6)
    quality = prepared(jpeg(blurred)).quality
    assert not quality.ok
    assert quality.reasons == ("too blurred — hold the camera still and let it focus",)


def test_motion_blur_fails() -> None:
    kernel = np.zeros((1, 41), np.float32)
    kernel[0, :] = 1 / 41
    shaken = cv2.filter2D(parcel_scene(), -1, kernel)
    assert not prepared(jpeg(shaken)).quality.ok


def test_a_dark_photo_fails() -> None:
    dark = (parcel_scene().astype(np.float32) * 0.15).astype(np.uint8)
    quality = prepared(jpeg(dark)).quality
    assert "too dark — turn on the bench light" in quality.reasons


def test_glare_fails() -> None:
    scene = parcel_scene()
    scene[:, : scene.shape[1] // 2] = 255
    quality = prepared(jpeg(scene)).quality
    assert quality.reasons == ("too bright — move the parcel out of the glare",)


def test_sharpness_falls_as_blur_grows() -> None:
    gray = cv2.cvtColor(parcel_scene(1024, 768), cv2.COLOR_BGR2GRAY)
    values = [measure(cv2.GaussianBlur(gray, (0, 0), s), LIMITS).sharpness for s in (0.5, 1, 2, 4)]
    assert values == sorted(values, reverse=True)
