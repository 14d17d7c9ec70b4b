"""Photos made by the tests: a parcel seen from above with codes on it, EXIF blocks, bombs."""

import struct
import zlib

import cv2
import numpy as np
import zxingcpp


def parcel_scene(
    width: int = 1600, height: int = 1200, *, codes: tuple[str, ...] = (), seed: int = 1
) -> np.ndarray:
    """A BGR carton interior: cardboard brown, mottled and with edges, and EAN-13 labels."""
    rng = np.random.default_rng(seed)
    blotches = rng.integers(0, 60, (height // 40 + 1, width // 40 + 1), dtype=np.uint8)
    mottle = cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = 70 + mottle // 2
    image[..., 1] = 110 + mottle // 2
    image[..., 2] = 150 + mottle // 2
    for i in range(12):  # flaps, items and creases: hard edges everywhere
        x, y = int(rng.integers(0, width - 200)), int(rng.integers(0, height - 200))
        colour = tuple(int(c) for c in rng.integers(30, 230, 3))
        cv2.rectangle(image, (x, y), (x + 120 + 7 * i, y + 90 + 5 * i), colour, -1)
        cv2.line(image, (x, 0), (width - x, height), (40, 60, 80), 3)
    for i, text in enumerate(codes):
        label = np.array(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.EAN13).to_image(
            scale=max(3, width // 500)))  # fmt: skip
        label = cv2.copyMakeBorder(label, 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=255)
        h, w = label.shape
        x, y = 60 + i * (w + 60), height // 2 - h // 2
        image[y : y + h, x : x + w] = cv2.cvtColor(label, cv2.COLOR_GRAY2BGR)
    return image


def jpeg(image: np.ndarray, quality: int = 92) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


GPS_MARK = b"GPS-52.5200N-13.4050E"


def exif_block(orientation: int = 1) -> bytes:
    """A real APP1 Exif segment: IFD0 with Orientation and a GPS IFD whose text is GPS_MARK."""
    entries_0 = 2
    gps_ifd_at = 8 + 2 + entries_0 * 12 + 4
    text_at = gps_ifd_at + 2 + 12 + 4
    ifd0 = struct.pack("<H", entries_0)
    ifd0 += struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)  # Orientation, SHORT
    ifd0 += struct.pack("<HHII", 0x8825, 4, 1, gps_ifd_at)  # GPSInfo IFD pointer
    ifd0 += struct.pack("<I", 0)
    gps = struct.pack("<H", 1) + struct.pack("<HHII", 0x001B, 7, len(GPS_MARK), text_at)
    gps += struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd0 + gps + GPS_MARK
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def with_exif(data: bytes, orientation: int = 1) -> bytes:
    """The JPEG with an Exif block right after its start-of-image marker."""
    assert data[:2] == b"\xff\xd8"
    return data[:2] + exif_block(orientation) + data[2:]


def png_bomb(width: int = 12_000, height: int = 12_000) -> bytes:
    """A valid PNG of a few hundred kB that inflates to width x height grey pixels (144 MB)."""
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))  # fmt: skip


def jpeg_claiming(width: int, height: int) -> bytes:
    """A JPEG whose frame header claims width x height: a bomb's header, data cut short."""
    small = jpeg(np.zeros((8, 8, 3), np.uint8))
    at = small.index(b"\xff\xc0")
    return small[: at + 5] + struct.pack(">HH", height, width) + small[at + 9 :]
