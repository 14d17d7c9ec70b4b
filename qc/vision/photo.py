"""A parcel photo made fit to keep: checked, decoded, stripped, shrunk and measured. Pure.

The upload's size in pixels is read from its header before anything is decoded, so that a
decompression bomb (a small file that inflates to gigapixels) is refused for the price of
reading a few hundred bytes. The image is then decoded once, at the smallest JPEG DCT scale
(1/2, 1/4, 1/8) that still gives `max_side` pixels or more: a 12-megapixel photo decodes at
2000x1500 in half the time of a full decode, and that is ample to show what was in the box.
Re-encoding it drops every metadata block (EXIF with GPS, XMP, maker notes) by construction.

Quality is judged on a grey copy about 1000 pixels long, so that the thresholds mean the same
for every camera: sharpness is the variance of the Laplacian, taken per tile and read at the
75th percentile (a plain carton side is smooth even when in focus; a shaken photo is blurred
everywhere), brightness the mean grey level, glare the share of burnt-out pixels.
"""

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from qc.errors import TooLarge, UnsupportedMedia
from qc.vision.decode import Code, read, without_conflicts
from qc.vision.frames import FrameDecoder

JPEG, PNG = "image/jpeg", "image/png"
ANALYSIS_SIDE = 1000  # pixels, about: the long side of the grey copy quality is measured on
THUMB_SIDE = 320  # pixels, about
_TILES = 6  # the grey copy is cut into _TILES x _TILES tiles for sharpness


@dataclass(frozen=True)
class Header:
    media_type: str
    width: int
    height: int


@dataclass(frozen=True)
class QualityLimits:
    min_sharpness: float = 50.0
    min_brightness: float = 45.0
    max_brightness: float = 220.0
    max_glare: float = 0.25  # share of pixels at 250 or above


@dataclass(frozen=True)
class Quality:
    ok: bool
    sharpness: float
    brightness: float
    glare: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class PreparedPhoto:
    """What is kept of an upload, and what was measured on it."""

    jpeg: bytes
    thumbnail: bytes
    width: int
    height: int
    gray: np.ndarray  # the kept image in grey, for the barcode decoder
    quality: Quality


def sniff(data: bytes) -> Header:
    """The image's type and size, from its first bytes, without decoding it.

    Args:
        data: the upload, or at least its first few kilobytes.

    Returns:
        The media type and the size in pixels.

    Raises:
        UnsupportedMedia: not a JPEG or PNG, or a header too damaged to read.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise UnsupportedMedia("the PNG header is damaged", code="unreadable_image")
        width, height = struct.unpack(">II", data[16:24])
        return Header(PNG, width, height)
    if data.startswith(b"\xff\xd8\xff"):
        width, height = _jpeg_size(data)
        return Header(JPEG, width, height)
    raise UnsupportedMedia("send the photo as a JPEG or PNG image")


# Start-of-frame markers carry the size; the others (DHT, JPG, DAC) share the range.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int]:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            break
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _SOF and at + 9 <= len(data):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    raise UnsupportedMedia("the JPEG has no readable frame header", code="unreadable_image")


def check_size(header: Header, *, max_pixels: int) -> None:
    """Refuse an image whose pixels would not fit the cap once decoded (a decompression bomb)."""
    if header.width < 1 or header.height < 1:
        raise UnsupportedMedia("the image says it has no pixels", code="unreadable_image")
    if header.width * header.height > max_pixels:
        raise TooLarge(
            f"the image is {header.width}x{header.height} pixels; the limit is "
            f"{max_pixels / 1e6:.0f} megapixels",
            code="too_many_pixels",
        )


_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}  # fmt: skip


def _decode(data: bytes, header: Header, max_side: int) -> np.ndarray:
    scale = 1
    if header.media_type == JPEG:  # PNG has no cheap reduced decode
        long_side = max(header.width, header.height)
        while scale < 8 and long_side // (scale * 2) >= max_side:
            scale *= 2
    image = cv2.imdecode(np.frombuffer(data, np.uint8), _REDUCED[scale])
    if image is None:
        raise UnsupportedMedia(
            "the image data is damaged and cannot be read", code="unreadable_image"
        )
    long_side = max(image.shape[:2])
    if long_side > max_side:
        factor = max_side / long_side
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return image


def _shrunk(image: np.ndarray, side: int) -> np.ndarray:
    """The image made about `side` pixels long by a whole factor: a fractional INTER_AREA
    resize of a 2000-pixel photo costs five times as much, for no visible gain."""
    factor = round(max(image.shape[:2]) / side)
    if factor <= 1:
        return image
    return cv2.resize(image, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA)


def measure(gray: np.ndarray, limits: QualityLimits) -> Quality:
    """Sharpness, brightness and glare of a grey image about ANALYSIS_SIDE wide, and a verdict.

    Reasons are written for the packer at the bench: what is wrong and what to do.
    """
    laplacian = cv2.Laplacian(gray, cv2.CV_32F)
    h, w = laplacian.shape
    th, tw = max(h // _TILES, 1), max(w // _TILES, 1)
    tiles = [
        float(laplacian[y : y + th, x : x + tw].var())
        for y in range(0, h - th + 1, th)
        for x in range(0, w - tw + 1, tw)
    ]
    sharpness = float(np.percentile(tiles, 75))
    brightness = float(gray.mean())
    glare = float(np.count_nonzero(gray >= 250)) / gray.size
    reasons = []
    if sharpness < limits.min_sharpness:
        reasons.append("too blurred — hold the camera still and let it focus")
    if brightness < limits.min_brightness:
        reasons.append("too dark — turn on the bench light")
    elif brightness > limits.max_brightness or glare > limits.max_glare:
        reasons.append("too bright — move the parcel out of the glare")
    return Quality(not reasons, round(sharpness, 1), round(brightness, 1), round(glare, 3),
                   tuple(reasons))  # fmt: skip


def prepare(
    data: bytes, *, max_pixels: int, max_side: int, limits: QualityLimits, jpeg_quality: int = 88
) -> PreparedPhoto:
    """Check, decode, strip, shrink, thumbnail and measure an uploaded photo.

    Args:
        data: the uploaded file, JPEG or PNG.
        max_pixels: the largest image accepted, in pixels, checked before decoding.
        max_side: the long side of the kept image; larger photos are scaled down.
        limits: the quality gate.
        jpeg_quality: the quality the kept image is re-encoded at.

    Returns:
        The kept JPEG (no metadata), its thumbnail, sizes, a grey copy and the quality.

    Raises:
        UnsupportedMedia: not a readable JPEG or PNG.
        TooLarge: more pixels than `max_pixels`.
    """
    header = sniff(data)
    check_size(header, max_pixels=max_pixels)
    image = _decode(data, header, max_side)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = _shrunk(image, ANALYSIS_SIDE)
    quality = measure(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), limits)
    ok, kept = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    ok_thumb, thumb = cv2.imencode(
        ".jpg", _shrunk(small, THUMB_SIDE), [cv2.IMWRITE_JPEG_QUALITY, 80]
    )
    if not (ok and ok_thumb):  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise UnsupportedMedia("the image could not be re-encoded", code="unreadable_image")
    height, width = image.shape[:2]
    return PreparedPhoto(kept.tobytes(), thumb.tobytes(), width, height, gray, quality)


def codes_in(gray: np.ndarray) -> list[Code]:
    """The codes in a still photo: zxing-cpp over the whole image, and the region proposals of
    live frames, where zbar also reads.

    decode() alone lets zbar search a whole photo when zxing-cpp finds nothing (95 ms on a
    2000x1500 photo without a code); region proposals alone can miss a label crossed by a
    flap's edge. Together they read what either reads, in 40 ms at worst.
    """
    whole = read(gray, zbar=False, upscale_up_to=0)
    return without_conflicts(FrameDecoder().decode(gray) + whole)
