"""Decoder benchmark: images read and wrong payloads per symbology, and time per full frame.

    .venv/bin/python bench/decode.py [--corpus ../shared/corpus/barcodes] [--frames 20]

On the shared corpus (images with a known payload), per symbology family: images read with the
exact payload and wrong payloads, for this project's decoder (qc.vision.decode), raw zxing-cpp
with its default options, raw zbar, and zxing-cpp-then-zbar. Then the time to decode a 1920x1080
bench frame (clutter, a few codes, a slight turn), one thread, image loading excluded, for this
decoder and raw zxing-cpp. A benchmark, not a test: it exits 0 whatever it finds.
"""

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qc.barcodes import parse_scan
from qc.vision.decode import decode

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = {"1D": ("ean", "upc", "code", "itf"), "QR": ("qrcode",), "DataMatrix": ("datamatrix",)}
Read = list[tuple[str, str | None]]  # (text, GTIN-14 or None) per code found


def ours(gray: np.ndarray) -> Read:
    return [(c.text, c.gtin) for c in decode(gray)]


def raw_zxing(gray: np.ndarray) -> Read:
    found = zxingcpp.read_barcodes(gray, text_mode=zxingcpp.TextMode.Plain)
    return [(b.text, parse_scan(b.symbology_identifier + b.text).gtin) for b in found]


def raw_zbar(gray: np.ndarray) -> Read:
    found = pyzbar.decode(np.ascontiguousarray(gray))
    texts = [f.data.decode("utf-8", errors="replace") for f in found]
    return [(t, parse_scan("]E0" + t).gtin if t.isdigit() else None) for t in texts]


def zxing_then_zbar(gray: np.ndarray) -> Read:
    return raw_zxing(gray) or raw_zbar(gray)


DECODERS: dict[str, Callable[[np.ndarray], Read]] = {
    "this decoder": ours,
    "zxing-cpp (default options)": raw_zxing,
    "zbar": raw_zbar,
    "zxing-cpp, then zbar": zxing_then_zbar,
}


def family(folder: str) -> str | None:
    for name, prefixes in FAMILIES.items():
        if folder.startswith(prefixes):
            return name
    return None


def matches(read: tuple[str, str | None], expected: str, folder: str) -> bool:
    text, gtin = read
    if folder.startswith(("ean", "upc")):
        return gtin == expected.strip().zfill(14)
    return text == expected


def corpus_table(corpus: Path) -> None:
    samples = []
    for folder in sorted(p for p in corpus.iterdir() if p.is_dir()):
        kind = family(folder.name)
        for image in sorted(folder.iterdir()):
            truth = image.with_suffix(".txt")
            if kind is None or image.suffix not in (".png", ".jpg", ".webp") or not truth.exists():
                continue
            gray = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
            if gray is not None:
                samples.append((kind, folder.name, gray, truth.read_bytes().decode("utf-8")))
    totals = Counter(kind for kind, *_ in samples)
    head = ["decoder", *(f"{k} ({totals[k]})" for k in FAMILIES), "wrong payloads"]
    rows = []
    for name, run in DECODERS.items():
        read, wrong = Counter[str](), 0
        for kind, folder, gray, expected in samples:
            found = run(gray)
            hit = any(matches(r, expected, folder) for r in found)
            read[kind] += hit
            wrong += bool(found) and not hit
        cells = [f"{read[k]} ({100 * read[k] / max(totals[k], 1):.0f} %)" for k in FAMILIES]
        rows.append([name, *cells, str(wrong)])
    print_table(head, rows)


def frames(count: int) -> list[np.ndarray]:
    """Bench frames made here: grey clutter, an EAN-13, a QR and a DataMatrix, turned a little."""
    rng = np.random.default_rng(1)
    codes = [("4006381333931", zxingcpp.BarcodeFormat.EAN13, 3),
             ("DEMO-1001", zxingcpp.BarcodeFormat.QRCode, 6),
             ("\x1d0109506000134352", zxingcpp.BarcodeFormat.DataMatrix, 6)]  # fmt: skip
    made = []
    for i in range(count):
        frame = cv2.GaussianBlur(rng.integers(80, 180, (1080, 1920), dtype=np.uint8), (9, 9), 0)
        for j, (text, fmt, scale) in enumerate(codes):
            image = np.array(zxingcpp.create_barcode(text, fmt).to_image(scale=scale))
            image = cv2.copyMakeBorder(image, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)
            x, y = 150 + 550 * j + int(rng.integers(0, 100)), 200 + int(rng.integers(0, 400))
            frame[y : y + image.shape[0], x : x + image.shape[1]] = image
        turn = cv2.getRotationMatrix2D((960, 540), float(rng.uniform(-10, 10)), 1.0)
        made.append(cv2.warpAffine(frame, turn, (1920, 1080), borderValue=128) if i else frame)
    return made


def frame_table(count: int) -> None:
    made = frames(count)
    rows = []
    for name, run in (("this decoder", ours), ("zxing-cpp (default options)", raw_zxing)):
        run(made[0])  # warm-up
        times, found = [], []
        for frame in made:
            start = time.perf_counter()
            found.append(len(run(frame)))
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p90 = times[int(0.9 * (len(times) - 1))]
        mean_found = statistics.fmean(found)
        rows.append([name, f"{statistics.median(times):.1f}", f"{p90:.1f}", f"{mean_found:.1f}"])
    print_table(["decoder", "p50 ms/frame", "p90 ms/frame", "codes found (of 3)"], rows)


def print_table(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(map(len, column)) for column in zip(head, *rows, strict=True)]
    for cells in [head, ["-" * w for w in widths], *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(cells, widths, strict=True))))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpus/barcodes")
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        parser.error(f"no corpus at {args.corpus}")
    cv2.setNumThreads(1)
    print(f"nproc {os.cpu_count()} | zxing-cpp {version('zxing-cpp')} | OpenCV {cv2.__version__}"
          " | one thread, image loading excluded\n")  # fmt: skip
    print("Shared corpus, images read with the exact payload (EAN/UPC compared as GTINs):")
    corpus_table(args.corpus)
    print(f"\n1920x1080 frames made by the benchmark ({args.frames}):")
    frame_table(args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
