"""The decoder on the shared corpus of real photos, on frames the tests make, and as a property."""

from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
import pytest
import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qc.barcodes import gtin_check_digit
from qc.vision import decode as decode_module
from qc.vision.decode import (
    WELL_CHECKED,
    Code,
    confirm,
    decode,
    is_weak,
    needs_confirming,
    second_opinion,
    without_conflicts,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "barcodes"
IMAGE_SUFFIXES = (".png", ".jpg", ".webp")
# Images read correctly per folder, pinned at what the decoder reaches, so that a regression
# fails. Wrong payloads: at most this many (both libraries misread a few EAN/UPC codes into
# other codes with a valid check digit).
READ = {
    "code128-1": 6, "code128-3": 2, "code39-1": 6, "code39-3": 5, "datamatrix-1": 29,
    "datamatrix-2": 13, "datamatrix-4": 21, "ean13-1": 15, "ean13-3": 8, "ean8-1": 9,
    "itf-1": 14, "qrcode-1": 8, "qrcode-2": 54, "qrcode-3": 18, "upca-1": 5, "upca-2": 19,
    "upce-1": 3, "upce-2": 14,
}  # fmt: skip
WRONG = {"upca-2": 2}


def corpus_folder(name: str) -> Path:
    folder = CORPUS / name
    if not folder.is_dir():  # CI lays shared/ beside the clone: missing means a broken set-up
        pytest.fail(f"the shared barcode corpus is missing: {folder}", pytrace=False)
    return folder


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in IMAGE_SUFFIXES)


def gray(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return image if image is not None else np.zeros((1, 1), np.uint8)


def is_expected(code: Code, expected: str, folder: str) -> bool:
    """UPC/EAN payloads are compared as GTINs (the corpus stores them as 13 digits)."""
    if folder.startswith(("ean", "upc")):
        return code.gtin == expected.strip().zfill(14)
    return code.text == expected


@pytest.mark.parametrize("folder", sorted(READ))
def test_corpus_folder_is_read_at_its_pinned_rate(folder: str) -> None:
    read = wrong = wrong_confirmed = 0
    for path in images(corpus_folder(folder)):
        truth = path.with_suffix(".txt")
        if not truth.exists():
            continue
        expected = truth.read_bytes().decode("utf-8")
        codes = decode(gray(path))
        hit = any(is_expected(code, expected, folder) for code in codes)
        read += hit
        wrong += bool(codes) and not hit
        linear = [c for c in codes if c.format not in WELL_CHECKED]  # a QR may hold a second QR
        wrong_confirmed += sum(c.confirmed and not is_expected(c, expected, folder) for c in linear)
    assert read >= READ[folder]
    assert wrong <= WRONG.get(folder, 0)
    assert wrong_confirmed == 0  # every wrong linear payload of the corpus is left unconfirmed


def test_nothing_is_read_in_images_without_a_barcode() -> None:
    found = {p.name: decode(gray(p)) for p in images(corpus_folder("falsepositives-1"))}
    assert len(found) == 21
    assert {name: codes for name, codes in found.items() if codes} == {}


def test_several_codes_in_one_image_are_all_reported() -> None:
    counts = [len(decode(gray(p))) for p in images(corpus_folder("multi-1"))]
    assert len(counts) == 5 and all(n >= 1 for n in counts) and max(counts) >= 2


def rendered(text: str, fmt: zxingcpp.BarcodeFormat, scale: int) -> np.ndarray:
    return np.array(zxingcpp.create_barcode(text, fmt).to_image(scale=scale))


def frame_with(*codes: tuple[np.ndarray, tuple[int, int]], angle: float = 0.0) -> np.ndarray:
    """A 1920x1080 bench frame: grey clutter, the codes pasted in, turned and blurred a little."""
    rng = np.random.default_rng(7)
    frame = rng.integers(90, 170, size=(1080, 1920), dtype=np.uint8)
    frame = cv2.GaussianBlur(frame, (9, 9), 0)
    for image, (x, y) in codes:
        padded = cv2.copyMakeBorder(image, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)
        h, w = padded.shape
        frame[y : y + h, x : x + w] = padded
    turn = cv2.getRotationMatrix2D((960, 540), angle, 1.0)
    frame = cv2.warpAffine(frame, turn, (1920, 1080), borderValue=128)
    return cv2.GaussianBlur(frame, (3, 3), 0)


def test_codes_in_a_full_frame_are_read_with_their_gtins() -> None:
    ean = rendered("4006381333931", zxingcpp.BarcodeFormat.EAN13, 3)
    gs1 = rendered("\x1d0109506000134352172701011032A", zxingcpp.BarcodeFormat.DataMatrix, 6)
    qr = rendered("DEMO-1001", zxingcpp.BarcodeFormat.QRCode, 6)
    frame = frame_with((ean, (200, 300)), (gs1, (900, 250)), (qr, (1400, 600)), angle=8)

    codes = {c.format: c for c in decode(frame)}

    assert codes["EAN13"].gtin == "04006381333931"
    assert codes["DataMatrix"].gtin == "09506000134352"
    assert codes["QRCode"].text == "DEMO-1001" and codes["QRCode"].gtin is None
    assert all(len(c.corners) == 4 for c in codes.values())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.text(alphabet="0123456789", min_size=12, max_size=12), scale=st.integers(2, 4))
def test_a_rendered_ean13_is_read_as_itself_or_not_at_all(body: str, scale: int) -> None:
    code = body + str(gtin_check_digit(body))
    frame = frame_with((rendered(code, zxingcpp.BarcodeFormat.EAN13, scale), (600, 400)))
    assert [c.gtin for c in decode(frame)] in ([code.zfill(14)], [])


def test_most_rendered_ean13s_are_read() -> None:
    bodies = [f"{n:012d}" for n in range(400_000_000_001, 400_000_000_001 + 40 * 7919, 7919)]
    read = 0
    for body in bodies:
        code = body + str(gtin_check_digit(body))
        frame = frame_with((rendered(code, zxingcpp.BarcodeFormat.EAN13, 3), (600, 400)))
        read += [c.gtin for c in decode(frame)] == [code.zfill(14)]
    assert read >= 38


def test_an_ean13_that_also_reads_backwards_is_not_reported() -> None:
    # Found by the property above: zxing-cpp reads this one both ways, the backward read
    # (9134808082102) with a valid check digit too. Neither can be trusted.
    frame = frame_with((rendered("7002200000432", zxingcpp.BarcodeFormat.EAN13, 4), (600, 400)))
    assert decode(frame) == []


def code_at(text: str, x: int, *, confirmed: bool = True, gtin: str | None = None) -> Code:
    corners = ((x, 0), (x + 100, 0), (x + 100, 50), (x, 50))
    return Code(text, "EAN13", gtin, corners, "zxing", confirmed)


def test_two_reads_of_one_place_cancel_and_repeats_fold() -> None:
    assert without_conflicts([code_at("A", 0), code_at("B", 5)]) == []
    assert without_conflicts([code_at("A", 0), code_at("A", 5)]) == [code_at("A", 0)]
    assert without_conflicts([code_at("A", 0), code_at("B", 300)]) == [
        code_at("A", 0),
        code_at("B", 300),
    ]
    unsure = code_at("A", 0, confirmed=False)
    assert without_conflicts([unsure, code_at("A", 5)]) == [code_at("A", 0)]


def strip(
    text: str,
    fmt: zxingcpp.BarcodeFormat,
    *,
    contrast: tuple[int, int] = (0, 255),
    rows: int | None = None,
    blur: float = 0.0,
) -> np.ndarray:
    """One code on a 1200x300 image (too wide for the 2x retry), dimmed, cut down or blurred."""
    image = rendered(text, fmt, 3).astype(np.float32)
    if rows is not None:  # a sliver across the bars, as a code half under tape shows
        image = image[image.shape[0] // 2 : image.shape[0] // 2 + rows]
    dark, light = contrast
    image = dark + image * (light - dark) / 255
    canvas = np.full((300, 1200), light, np.float32)
    h, w = image.shape
    canvas[150 - h // 2 : 150 - h // 2 + h, 100 : 100 + w] = image
    if blur:
        canvas = cv2.GaussianBlur(canvas, (0, 0), blur)
    return canvas.astype(np.uint8)


@pytest.fixture
def zbar_silenced() -> Iterator[None]:
    """zxing-cpp alone: every read is single-library, and the second opinion never comes."""
    with mock.patch.object(decode_module, "_zbar", return_value=[]):
        yield


FORMAT = zxingcpp.BarcodeFormat
EAN = ("4006381333931", FORMAT.EAN13)
LINEAR = [EAN, ("DEMO1001", FORMAT.Code39), ("12345678901231", FORMAT.ITF)]
WELL = [("DEMO-1001", FORMAT.QRCode), ("DEMO-1001", FORMAT.Code128)]


@pytest.mark.parametrize(("text", "fmt"), LINEAR, ids=lambda v: getattr(v, "name", ""))
@pytest.mark.parametrize(
    ("weak", "kwargs"),
    [(False, {}), (True, {"contrast": (100, 150)}), (True, {"rows": 6}), (False, {"rows": 14})],
    ids=["crisp", "dim", "sliver", "strip"],
)
@pytest.mark.usefixtures("zbar_silenced")
def test_a_linear_code_read_by_one_library_is_confirmed_unless_its_image_is_weak(
    text: str, fmt: zxingcpp.BarcodeFormat, weak: bool, kwargs: dict[str, object]
) -> None:
    image = strip(text, fmt, **kwargs)  # type: ignore[arg-type]
    [code] = decode(image)
    assert code.text == text and is_weak(image, code) is weak
    assert code.confirmed is not weak


@pytest.mark.parametrize(("text", "fmt"), WELL, ids=["QRCode", "Code128"])
@pytest.mark.usefixtures("zbar_silenced")
def test_well_checked_symbologies_need_no_confirming_even_dim(
    text: str, fmt: zxingcpp.BarcodeFormat
) -> None:
    image = strip(text, fmt, contrast=(110, 140))
    [code] = decode(image)
    assert is_weak(image, code) and code.confirmed


def test_zbar_confirms_a_dim_ean_that_zxing_read() -> None:
    image = strip(*EAN, contrast=(100, 150))
    [code] = decode(image)
    assert code.decoder == "zxing" and needs_confirming(image, code)
    assert second_opinion(image, code) and code.confirmed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    symbol=st.sampled_from(LINEAR + WELL),
    dark=st.integers(0, 120),
    span=st.integers(15, 255),
    rows=st.one_of(st.none(), st.integers(2, 20)),
    blur=st.sampled_from([0.0, 0.8, 1.5]),
)
def test_unconfirmed_reads_are_exactly_the_weak_single_library_linear_ones(
    symbol: tuple[str, zxingcpp.BarcodeFormat], dark: int, span: int, rows: int | None, blur: float
) -> None:
    image = strip(*symbol, contrast=(dark, min(dark + span, 255)), rows=rows, blur=blur)
    for code in decode(image):
        weak_linear = code.format not in WELL_CHECKED and is_weak(image, code)
        assert needs_confirming(image, code) == weak_linear
        assert code.confirmed == (not weak_linear or second_opinion(image, code))


def test_confirm_takes_the_orders_codes_and_earlier_frames() -> None:
    unsure = code_at("4006381333931", 0, confirmed=False, gtin="04006381333931")
    other = code_at("9501101530003", 300, confirmed=False, gtin="09501101530003")
    sure = code_at("DEMO", 600)

    assert confirm([unsure, other, sure]) == [unsure, other, sure]
    assert confirm([unsure, other], expected_gtins=frozenset({"04006381333931"})) == [
        code_at("4006381333931", 0, gtin="04006381333931"),
        other,
    ]
    earlier = [code_at("9501101530003", 900, confirmed=False, gtin="09501101530003")]
    assert [c.confirmed for c in confirm([unsure, other, sure], earlier=earlier)] == [
        False,
        True,
        True,
    ]


def test_a_blank_frame_has_no_codes() -> None:
    assert decode(np.full((1080, 1920), 200, np.uint8)) == []


@pytest.mark.parametrize(
    "array", [np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.float32)], ids=["bgr", "float"]
)
def test_only_grayscale_bytes_are_taken(array: np.ndarray) -> None:
    with pytest.raises(ValueError, match="grayscale"):
        decode(array)
