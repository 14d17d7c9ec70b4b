"""FrameDecoder on frames the tests make, the mailbox between camera and decoder."""

import threading
import time
from collections.abc import Callable, Iterator
from unittest import mock

import cv2
import numpy as np
import pytest
import zxingcpp

from qc.vision import decode as decode_module
from qc.vision.decode import decode
from qc.vision.frames import FrameDecoder, LatestFrame
from tests.qc.test_vision_decode import frame_with, rendered

FORMAT = zxingcpp.BarcodeFormat
EAN, QR = "4006381333931", "DEMO-1001"
GS1 = "\x1d0109506000134352172701011032A"


def ean(scale: int = 3) -> np.ndarray:
    return rendered(EAN, FORMAT.EAN13, scale)


def qr(scale: int = 6) -> np.ndarray:
    return rendered(QR, FORMAT.QRCode, scale)


def datamatrix(scale: int = 6) -> np.ndarray:
    return rendered(GS1, FORMAT.DataMatrix, scale)


def dimmed(frame: np.ndarray, dark: int, light: int) -> np.ndarray:
    return (dark + frame.astype(np.float32) * (light - dark) / 255).astype(np.uint8)


def glare(frame: np.ndarray, x: int, y: int, radius: int = 120) -> np.ndarray:
    """A lamp's reflection: a bright round patch, washing out what lies under it."""
    yy, xx = np.mgrid[: frame.shape[0], : frame.shape[1]]
    light = 200 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * radius**2))
    return np.clip(frame + light, 0, 255).astype(np.uint8)


PASTED = {"EAN13": (200, 300), "DataMatrix": (900, 250), "QRCode": (1400, 600)}


def three_codes(**kwargs: float) -> np.ndarray:
    at = PASTED
    return frame_with(
        (ean(), at["EAN13"]), (datamatrix(), at["DataMatrix"]), (qr(), at["QRCode"]), **kwargs
    )


ALL_THREE = {("EAN13", EAN), ("DataMatrix", GS1), ("QRCode", QR)}
FRAMES: dict[str, tuple[Callable[[], np.ndarray], set[tuple[str, str]]]] = {
    "several codes, turned 8°": (lambda: three_codes(angle=8), ALL_THREE),
    "turned 30°": (
        lambda: frame_with((qr(), (800, 400)), (datamatrix(), (300, 300)), angle=30),
        {("DataMatrix", GS1), ("QRCode", QR)},
    ),
    "EAN-13 upright": (lambda: frame_with((ean(), (700, 400)), angle=90), {("EAN13", EAN)}),
    "blurred": (
        lambda: cv2.GaussianBlur(frame_with((ean(4), (600, 400)), (qr(), (1300, 300))), (0, 0), 2),
        {("EAN13", EAN), ("QRCode", QR)},
    ),
    "glare": (
        lambda: glare(frame_with((ean(), (600, 400)), (qr(), (1300, 300))), 700, 450),
        {("EAN13", EAN), ("QRCode", QR)},
    ),
    "low contrast": (lambda: dimmed(three_codes(), 100, 150), ALL_THREE),
    "tiny codes": (
        lambda: frame_with((ean(2), (600, 400)), (qr(2), (1300, 300)), (datamatrix(2), (200, 700))),
        ALL_THREE,
    ),
}


def found(codes: list[decode_module.Code]) -> set[tuple[str, str]]:
    return {(c.format, c.text) for c in codes}


@pytest.mark.parametrize("kind", FRAMES)
def test_frames_are_read_at_least_as_well_as_by_decode(kind: str) -> None:
    make, expected = FRAMES[kind]
    frame = make()

    codes = FrameDecoder().decode(frame)

    assert found(codes) == expected
    assert found(decode(frame)) <= found(codes)
    assert all(c.confirmed for c in codes)


def test_colour_frames_read_as_their_grey_and_corners_are_frame_pixels() -> None:
    frame = three_codes()
    colour = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    frames = FrameDecoder()

    from_colour, from_grey = frames.decode(colour), frames.decode(frame)

    assert found(from_colour) == found(from_grey) == ALL_THREE
    sizes = {"EAN13": ean().shape, "DataMatrix": datamatrix().shape, "QRCode": qr().shape}
    for code in from_colour:
        (x, y), (h, w) = PASTED[code.format], sizes[code.format]
        # Within the pasted code and its 20-pixel white border.
        assert all(x <= cx <= x + w + 40 and y <= cy <= y + h + 40 for cx, cy in code.corners)


def test_regions_cover_the_codes_and_skip_plain_clutter_and_lines_of_print() -> None:
    frames = FrameDecoder()
    regions = frames.regions(three_codes())
    for x, y, image in ((200, 300, ean()), (900, 250, datamatrix()), (1400, 600, qr())):
        h, w = image.shape  # pasted with a 20-pixel white border
        assert any(x0 <= x + 20 and y0 <= y + 20 and x + 20 + w <= x1 and y + 20 + h <= y1
                   for x0, y0, x1, y1 in regions)  # fmt: skip

    printed = frame_with()
    cv2.putText(printed, "FRAGILE 760041 390479 473040", (300, 500), 0, 1.4, 20, 2)
    assert frames.regions(frame_with()) == []
    assert frames.regions(printed) == []


def test_without_regions_the_whole_frame_is_read_first_then_every_nth_frame() -> None:
    # A large, faint code: too little gradient for a region that holds all of it, read at
    # half size all the same.
    faint = dimmed(frame_with((qr(16), (700, 200))), 100, 160)
    frames = FrameDecoder(full_every=3)

    reads = [found(frames.decode(faint)) for _ in range(4)]
    assert reads[0] == {("QRCode", QR)}
    blank = np.full((1080, 1920), 128, np.uint8)
    reads = [found(frames.decode(frame)) for frame in (blank, faint, faint, faint, faint)]
    assert reads == [set(), set(), set(), {("QRCode", QR)}, {("QRCode", QR)}]


@pytest.fixture
def zbar_silenced() -> Iterator[None]:
    with mock.patch.object(decode_module, "_zbar", return_value=[]):
        yield


@pytest.mark.usefixtures("zbar_silenced")
def test_a_weak_read_counts_when_the_next_frame_reads_it_again() -> None:
    weak = dimmed(frame_with((ean(), (600, 400))), 100, 150)  # 50 grey levels: weak
    blank = np.full((1080, 1920), 128, np.uint8)
    frames = FrameDecoder()

    confirmed = [[c.confirmed for c in frames.decode(f)] for f in (weak, weak, blank, weak)]

    assert confirmed == [[False], [True], [], [False]]


def test_only_uint8_grey_or_bgr_frames_are_taken() -> None:
    frames = FrameDecoder()
    for bad in (np.zeros((8, 8), np.float32), np.zeros((8, 8, 4), np.uint8)):
        with pytest.raises(ValueError, match="frame"):
            frames.decode(bad)
    with pytest.raises(ValueError, match="full_every"):
        FrameDecoder(full_every=0)


def test_a_small_image_goes_through_like_decode() -> None:
    image = cv2.copyMakeBorder(ean(), 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=255)
    assert found(FrameDecoder().decode(image)) == found(decode(image)) == {("EAN13", EAN)}
    assert FrameDecoder().decode(np.zeros((3, 3), np.uint8)) == []


def test_the_mailbox_keeps_the_newest_frame_and_counts_the_dropped() -> None:
    box = LatestFrame()
    first, second = np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8)
    box.put(first)
    box.put(second)
    assert box.take(timeout=0) is second
    assert box.dropped == 1
    started = time.perf_counter()
    assert box.take(timeout=0.05) is None
    assert time.perf_counter() - started >= 0.04


def test_a_slow_decoder_only_ever_sees_newer_frames() -> None:
    box = LatestFrame()
    seen: list[int] = []

    def decoder() -> None:
        while (frame := box.take(timeout=1)) is not None:
            seen.append(int(frame[0, 0]))
            time.sleep(0.005)  # slower than the camera

    thread = threading.Thread(target=decoder)
    thread.start()
    for i in range(200):
        box.put(np.full((1, 1), i % 256, np.uint16))
        time.sleep(0.0005)
    time.sleep(0.05)
    box.close()
    thread.join(timeout=2)

    assert not thread.is_alive()
    assert seen == sorted(seen) and seen[-1] == 199
    assert len(seen) + box.dropped == 200 and box.dropped > 0


def test_closing_wakes_a_waiting_take() -> None:
    box = LatestFrame()
    threading.Timer(0.05, box.close).start()
    started = time.perf_counter()
    assert box.take() is None
    assert time.perf_counter() - started < 1
