"""Barcodes in an image, pure: a grayscale numpy array in, the codes found out.

zxing-cpp reads first, restricted to the symbologies a packing bench meets; zbar (pyzbar) is
asked only when zxing-cpp finds nothing, since each library reads some images the other
misses; a small image where neither finds anything is tried once more at twice its size.
Every code carries its GTIN-14 when it is a GS1 item code (qc.barcodes reads it the
way a bench scanner's input is read), so callers match camera reads and scanner reads alike.
"""

from dataclasses import dataclass, replace

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar

from qc.barcodes import normalize_catalogue_code, parse_scan
from qc.errors import InvalidBarcode

_F = zxingcpp.BarcodeFormat
ZXING_FORMATS = zxingcpp.BarcodeFormats([
    _F.EAN8, _F.EAN13, _F.UPCA, _F.UPCE, _F.Code128, _F.Code39, _F.ITF,
    _F.QRCode, _F.DataMatrix, _F.DataBar, _F.DataBarExp,
])  # fmt: skip
_ZBAR_SYMBOLS = [
    pyzbar.ZBarSymbol.EAN8, pyzbar.ZBarSymbol.EAN13, pyzbar.ZBarSymbol.UPCA,
    pyzbar.ZBarSymbol.UPCE, pyzbar.ZBarSymbol.CODE128, pyzbar.ZBarSymbol.CODE39,
    pyzbar.ZBarSymbol.I25, pyzbar.ZBarSymbol.QRCODE, pyzbar.ZBarSymbol.DATABAR,
    pyzbar.ZBarSymbol.DATABAR_EXP,
]  # fmt: skip
# zbar's names for the symbologies, as zxing-cpp names them; and the ISO/IEC 15424 identifier
# zbar does not give but qc.barcodes needs to read GS1 data.
_ZBAR_FORMATS = {
    "EAN8": ("EAN8", "]E4"), "EAN13": ("EAN13", "]E0"), "UPCA": ("UPCA", "]E0"),
    "UPCE": ("UPCE", "]E0"), "CODE128": ("Code128", "]C0"), "CODE39": ("Code39", "]A0"),
    "I25": ("ITF", "]I0"), "QRCODE": ("QRCode", "]Q1"), "DATABAR": ("DataBar", "]e0"),
    "DATABAR_EXP": ("DataBarExp", "]e0"),
}  # fmt: skip

Corners = tuple[tuple[int, int], ...]
SMALL_IMAGE_SIDE = 1000  # pixels: up to this, an image with no code found is tried at 2x


@dataclass(frozen=True)
class Code:
    """One code found in an image.

    `text` is the payload (GS1 element strings with GS separators), `gtin` the GTIN-14 of a
    GS1 item code or None, `corners` the code's outline in pixels, `decoder` which library
    read it.
    """

    text: str
    format: str
    gtin: str | None
    corners: Corners
    decoder: str


def _gtin(format_name: str, symbology: str, text: str) -> str | None:
    """The GTIN-14 of a GS1 item code; 8 digits are read as the symbology the decoder saw."""
    if len(text) == 8 and format_name in ("EAN8", "UPCE"):
        try:
            return normalize_catalogue_code(text, symbology=format_name.lower())
        except InvalidBarcode:
            return None
    return parse_scan(symbology + text).gtin


def _zxing(gray: np.ndarray) -> list[Code]:
    found = zxingcpp.read_barcodes(gray, formats=ZXING_FORMATS, text_mode=zxingcpp.TextMode.Plain)
    codes = []
    for barcode in found:
        p = barcode.position
        corners = tuple(
            (int(c.x), int(c.y)) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
        )
        text = barcode.text
        format_name = barcode.format.name
        codes.append(
            Code(
                text,
                format_name,
                _gtin(format_name, barcode.symbology_identifier, text),
                corners,
                "zxing",
            )
        )
    return codes


def _zbar(gray: np.ndarray) -> list[Code]:
    codes = []
    for found in pyzbar.decode(gray, symbols=_ZBAR_SYMBOLS):
        format_name, symbology = _ZBAR_FORMATS.get(found.type, (found.type, ""))
        text = found.data.decode("utf-8", errors="replace")
        corners = tuple((int(x), int(y)) for x, y in found.polygon)
        codes.append(Code(text, format_name, _gtin(format_name, symbology, text), corners, "zbar"))
    return codes


def decode(gray: np.ndarray) -> list[Code]:
    """The codes in a grayscale image (2-D uint8 array): zxing-cpp, else zbar, else upscaled.

    Args:
        gray: the image, one byte per pixel.

    Returns:
        The codes found, in the order the decoder reported them; empty if none.

    Raises:
        ValueError: the array is not a 2-D uint8 image.
    """
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 grayscale image, got {gray.dtype} {gray.shape}")
    found = _zxing(gray) or _zbar(np.ascontiguousarray(gray)) or _upscaled(gray)
    return without_conflicts(found)


def _box(corners: Corners) -> tuple[int, int, int, int]:
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return min(xs), min(ys), max(xs), max(ys)


def _overlap(a: Corners, b: Corners) -> float:
    """Intersection over union of the two codes' upright bounding boxes."""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = _box(a), _box(b)
    w, h = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    inter = max(w, 0) * max(h, 0)
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def without_conflicts(codes: list[Code]) -> list[Code]:
    """Drop codes that another, different read claims for the same place; fold repeats.

    zxing-cpp can read a linear code both ways, each with a valid check digit (an EAN-13 read
    backwards, say): one of the two is a misread and nothing here says which, so neither counts;
    the packer scans again.
    """
    kept: list[Code] = []
    doubtful: set[int] = set()
    for i, code in enumerate(codes):
        same_place = [
            j for j, other in enumerate(kept) if _overlap(code.corners, other.corners) > 0.5
        ]
        if any(kept[j].text == code.text for j in same_place):
            continue
        if same_place:
            doubtful.update(same_place)
            doubtful.add(len(kept))
        kept.append(code)
        del i
    return [code for k, code in enumerate(kept) if k not in doubtful]


def _upscaled(gray: np.ndarray) -> list[Code]:
    """zxing-cpp on the image at twice its size, when it is small: fine bars read better so.

    On the shared corpus this reads 6 more images, with no wrong payload and nothing in the
    images without a code. Full camera frames are left alone: too costly, and rarely the cure.
    """
    if max(gray.shape) > SMALL_IMAGE_SIDE:
        return []
    big = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return [
        replace(code, corners=tuple((x // 2, y // 2) for x, y in code.corners))
        for code in _zxing(big)
    ]
