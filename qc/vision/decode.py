"""Barcodes in an image, pure: a grayscale numpy array in, the codes found out.

zxing-cpp reads first, restricted to the symbologies a packing bench meets; zbar (pyzbar) is
asked only when zxing-cpp finds nothing, since each library reads some images the other
misses; a small image where neither finds anything is tried once more at twice its size.
Every code carries its GTIN-14 when it is a GS1 item code (qc.barcodes reads it the
way a bench scanner's input is read), so callers match camera reads and scanner reads alike.

Misreads. Both libraries return some wrong EAN/UPC payloads whose check digit is valid (a
mod-10 check misses many two-digit errors), and ITF and Code 39 carry at most an optional one.
So every read says whether it is `confirmed`. A read is confirmed when its symbology detects
errors well (QR, DataMatrix, Code 128, DataBar), or when its image is not weak, or when the
other library, asked about the code's crop, reads the same payload there. An image is weak
for a read, measurably, when any of these holds:

- the read came only from the 2x upscale (neither library read the image as it is);
- its contrast is low: fewer than MIN_CONTRAST grey levels between the 5th and the 95th
  percentile of the code's bounding box (a sharp print under even light spans 150 or more);
- the read rests on a sliver: the scan lines that agreed span fewer than MIN_SPAN_MODULES
  module widths along the bars (the outline's short side over its long side's module width).

On the shared corpus the three wrong payloads this decoder returns are all weak so (two
slivers 0.8 and 1.2 modules high, one read at 17 grey levels of contrast) and no other read
confirms them; 7 right reads stay unconfirmed too (242 of the 249 images read are read with a
confirmed code, none of them wrong). An unconfirmed read is still returned: `confirm` settles
it against the order's codes or an earlier frame; a caller that cannot should ask for a scan.
"""

from collections.abc import Iterable
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
# Symbologies whose own error detection is trusted: Reed-Solomon (QR, DataMatrix), Code 128's
# mod-103 check over every symbol, DataBar's checksum over the whole symbol.
WELL_CHECKED = frozenset({"QRCode", "DataMatrix", "Code128", "DataBar", "DataBarExp"})
# Modules from first bar to last, for the linear codes asked to confirm (ITF and Code 39 at
# a 3:1 wide-to-narrow ratio, which gives the least modules, so the most lenient span).
_MODULES = {"EAN13": 95, "UPCA": 95, "EAN8": 67, "UPCE": 51}

Corners = tuple[tuple[int, int], ...]
SMALL_IMAGE_SIDE = 1000  # pixels: up to this, an image with no code found is tried at 2x
MIN_CONTRAST = 64  # grey levels, 5th to 95th percentile of a code's box
MIN_SPAN_MODULES = 3.0  # module widths along the bars that the agreeing scan lines cover
_CUBIC = cv2.INTER_CUBIC


@dataclass(frozen=True)
class Code:
    """One code found in an image.

    `text` is the payload (GS1 element strings with GS separators), `gtin` the GTIN-14 of a
    GS1 item code or None, `corners` the code's outline in pixels, `decoder` which library
    read it, `confirmed` whether the read can be trusted as it is (see the module's text).
    """

    text: str
    format: str
    gtin: str | None
    corners: Corners
    decoder: str
    confirmed: bool


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
        text, format_name = barcode.text, barcode.format.name
        gtin = _gtin(format_name, barcode.symbology_identifier, text)
        codes.append(Code(text, format_name, gtin, corners, "zxing", format_name in WELL_CHECKED))
    return codes


def _zbar(gray: np.ndarray) -> list[Code]:
    codes = []
    for found in pyzbar.decode(np.ascontiguousarray(gray), symbols=_ZBAR_SYMBOLS):
        format_name, symbology = _ZBAR_FORMATS.get(found.type, (found.type, ""))
        text = found.data.decode("utf-8", errors="replace")
        corners = tuple((int(x), int(y)) for x, y in found.polygon)
        gtin = _gtin(format_name, symbology, text)
        codes.append(Code(text, format_name, gtin, corners, "zbar", format_name in WELL_CHECKED))
    return codes


def decode(gray: np.ndarray) -> list[Code]:
    """The codes in a grayscale image (2-D uint8 array): zxing-cpp, else zbar, else upscaled.

    Args:
        gray: the image, one byte per pixel.

    Returns:
        The codes found, in the order the decoder reported them, each confirmed or not;
        empty if none.

    Raises:
        ValueError: the array is not a 2-D uint8 image.
    """
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 grayscale image, got {gray.dtype} {gray.shape}")
    return without_conflicts(read(gray))


def read(
    gray: np.ndarray, *, upscale_up_to: int = SMALL_IMAGE_SIDE, zbar: bool = True
) -> list[Code]:
    """zxing-cpp, else zbar, else zxing-cpp at 2x up to a size; every read settled, no dedup.

    Args:
        gray: a 2-D uint8 image (a view into a larger one is fine).
        upscale_up_to: the longest side, in pixels, up to which an image where nothing was
            found is tried at twice its size.
        zbar: whether zbar is asked when zxing-cpp finds nothing.

    Returns:
        The reads, each with `confirmed` decided.
    """
    found = _zxing(gray) or (_zbar(gray) if zbar else [])
    if found:
        return [_settled(gray, code, upscaled=False) for code in found]
    if max(gray.shape) > upscale_up_to:
        return []
    return [_settled(gray, code, upscaled=True) for code in _upscaled(gray)]


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
    the packer scans again. A repeat folds into the first read, confirmed if either was.
    """
    kept: list[Code] = []
    doubtful: set[int] = set()
    for code in codes:
        same_place = [
            j for j, other in enumerate(kept) if _overlap(code.corners, other.corners) > 0.5
        ]
        repeat = next((j for j in same_place if kept[j].text == code.text), None)
        if repeat is not None:
            if code.confirmed and not kept[repeat].confirmed:
                kept[repeat] = replace(kept[repeat], confirmed=True)
            continue
        if same_place:
            doubtful.update(same_place)
            doubtful.add(len(kept))
        kept.append(code)
    return [code for k, code in enumerate(kept) if k not in doubtful]


def _upscaled(gray: np.ndarray) -> list[Code]:
    """zxing-cpp on the image at twice its size, when it is small: fine bars read better so.

    On the shared corpus this reads 6 more images, with no wrong payload and nothing in the
    images without a code. Full camera frames are left alone: too costly, and rarely the cure.
    """
    big = cv2.resize(gray, None, fx=2, fy=2, interpolation=_CUBIC)
    return [
        replace(code, corners=tuple((x // 2, y // 2) for x, y in code.corners))
        for code in _zxing(big)
    ]


def _span(code: Code) -> tuple[float, float]:
    """The read's outline as (length across the bars, extent along them), in pixels."""
    (_, (w, h), _) = cv2.minAreaRect(np.array(code.corners, np.float32))
    return max(w, h), min(w, h)


def module_width(code: Code) -> float:
    """A linear code's module width in pixels, from its outline (a lower bound for ITF/39)."""
    modules = _MODULES.get(code.format)
    if modules is None:
        n = len(code.text)
        modules = 9 * n + 9 if code.format == "ITF" else 16 * (n + 2) - 1
    return _span(code)[0] / modules


def is_weak(gray: np.ndarray, code: Code) -> bool:
    """Whether the code's image is weak: low contrast, or read on a sliver of its bars.

    Args:
        gray: the image the code was read in.
        code: a read of that image.

    Returns:
        True when the 5th-95th percentile spread of the code's box is under MIN_CONTRAST or
        the read spans fewer than MIN_SPAN_MODULES module widths along the bars.
    """
    x0, y0, x1, y1 = _box(code.corners)
    box = gray[max(y0 - 2, 0) : max(y1 + 3, 0), max(x0, 0) : max(x1 + 1, 0)]
    if box.size == 0:
        return True
    low, high = np.percentile(box, (5, 95))
    if high - low < MIN_CONTRAST:
        return True
    return _span(code)[1] < MIN_SPAN_MODULES * module_width(code)


def needs_confirming(gray: np.ndarray, code: Code, *, upscaled: bool = False) -> bool:
    """Whether one library's word is not enough: a weakly checked symbology in a weak image.

    Args:
        gray: the image the code was read in.
        code: a read of that image.
        upscaled: the read came only from the image at twice its size.

    Returns:
        True for EAN/UPC, ITF and Code 39 reads that were upscaled or whose image is weak.
    """
    return code.format not in WELL_CHECKED and (upscaled or is_weak(gray, code))


def second_opinion(gray: np.ndarray, code: Code) -> bool:
    """Whether the other library reads the same payload in the code's crop (also at 2x).

    Args:
        gray: the image the code was read in.
        code: a read of that image.

    Returns:
        True when the other library returns the same GTIN (or, without one, the same text).
    """
    x0, y0, x1, y1 = _box(code.corners)
    pad = int(max(8.0, 12 * module_width(code)))  # the quiet zones, and a little more
    crop = gray[max(y0 - pad, 0) : max(y1 + pad, 0), max(x0 - pad, 0) : max(x1 + pad, 0)]
    if crop.size == 0:
        return False
    other = _zbar if code.decoder == "zxing" else _zxing
    for scale in (1, 2):
        image = crop if scale == 1 else cv2.resize(crop, None, fx=2, fy=2, interpolation=_CUBIC)
        if any(_same_payload(read, code) for read in other(np.ascontiguousarray(image))):
            return True
    return False


def _same_payload(a: Code, b: Code) -> bool:
    """Same GTIN when both have one (zbar reads a UPC-A as 12 digits), else the same text."""
    return a.gtin == b.gtin if a.gtin and b.gtin else a.text == b.text


def _settled(gray: np.ndarray, code: Code, *, upscaled: bool) -> Code:
    confirmed = not needs_confirming(gray, code, upscaled=upscaled) or second_opinion(gray, code)
    return code if code.confirmed == confirmed else replace(code, confirmed=confirmed)


def confirm(
    codes: Iterable[Code],
    *,
    expected_gtins: frozenset[str] = frozenset(),
    earlier: Iterable[Code] = (),
) -> list[Code]:
    """The codes, an unconfirmed one confirmed if the order expects it or it was read before.

    Args:
        codes: reads of one image or frame.
        expected_gtins: the GTIN-14s the order holds: a read of one of them is what the bench
            expects to see, so it is taken.
        earlier: reads of earlier frames, confirmed or not: the same payload read again in
            another frame is taken.

    Returns:
        The codes in their order, the ones so settled now confirmed.
    """
    seen = list(earlier)
    settled = []
    for code in codes:
        expected = code.gtin is not None and code.gtin in expected_gtins
        known = expected or any(_same_payload(code, other) for other in seen)
        settled.append(replace(code, confirmed=True) if known and not code.confirmed else code)
    return settled
