"""Decoder benchmark: images read and wrong payloads per symbology, and time per full frame.

    taskset -c 0 .venv/bin/python bench/decode.py [--corpus ../shared/corpus/barcodes] [--frames 30]

On the shared corpus (images with a known payload), per symbology family: images read with the
exact payload and wrong payloads, for this project's decoder (qc.vision.decode), raw zxing-cpp
with its default options, raw zbar, and zxing-cpp-then-zbar; for this decoder also counting its
confirmed reads only. Then the time per 1920x1080 frame, one thread, image loading excluded, of
several kinds (codes on clutter; clutter alone; print and box edges without a code), for
qc.vision.frames.FrameDecoder (steady state over the sequence, buffers reused), this decoder's
decode() and raw zxing-cpp, interleaved frame by frame so that the machine's drift hits all
three alike. A benchmark, not a test: it exits 0 whatever it finds.
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
from typing import Any

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qc.barcodes import parse_scan
from qc.vision.decode import decode
from qc.vision.frames import FrameDecoder

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = {"1D": ("ean", "upc", "code", "itf"), "QR": ("qrcode",), "DataMatrix": ("datamatrix",)}
Read = list[tuple[str, str | None]]  # (text, GTIN-14 or None) per code found
CONFIRMED: dict[int, Read] = {}  # id(image) -> this decoder's confirmed reads of it


def ours(gray: np.ndarray) -> Read:
    codes = decode(gray)
    CONFIRMED[id(gray)] = [(c.text, c.gtin) for c in codes if c.confirmed]
    return [(c.text, c.gtin) for c in codes]


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
    head += ["read, confirmed only", "wrong, confirmed only"]
    rows = []
    for name, run in DECODERS.items():
        read, wrong = Counter[str](), 0
        read_confirmed = wrong_confirmed = 0
        for kind, folder, gray, expected in samples:
            found = run(gray)
            hit = any(matches(r, expected, folder) for r in found)
            read[kind] += hit
            wrong += bool(found) and not hit
            if run is ours:
                confirmed = CONFIRMED.pop(id(gray))
                hit = any(matches(r, expected, folder) for r in confirmed)
                read_confirmed += hit
                wrong_confirmed += bool(confirmed) and not hit
        cells = [f"{read[k]} ({100 * read[k] / max(totals[k], 1):.0f} %)" for k in FAMILIES]
        extra = [str(read_confirmed), str(wrong_confirmed)] if run is ours else ["-", "-"]
        rows.append([name, *cells, str(wrong), *extra])
    print_table(head, rows)


CODES = [("4006381333931", zxingcpp.BarcodeFormat.EAN13, 3),
         ("DEMO-1001", zxingcpp.BarcodeFormat.QRCode, 6),
         ("\x1d0109506000134352", zxingcpp.BarcodeFormat.DataMatrix, 6)]  # fmt: skip


def clutter(rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(rng.integers(80, 180, (1080, 1920), dtype=np.uint8), (9, 9), 0)


def print_and_edges(frame: np.ndarray, rng: np.random.Generator) -> None:
    """Boxes, tape edges and lines of print, as a parcel on a bench shows them (in place)."""
    for _ in range(6):
        x, y = int(rng.integers(0, 1700)), int(rng.integers(0, 900))
        w, h = int(rng.integers(150, 600)), int(rng.integers(100, 400))
        cv2.rectangle(frame, (x, y), (x + w, y + h), int(rng.integers(0, 256)), -1)
    for _ in range(10):
        x, y = int(rng.integers(0, 1500)), int(rng.integers(40, 1060))
        words = " ".join(str(rng.integers(0, 10**6)) for _ in range(4))
        scale = float(rng.uniform(0.6, 1.5))
        cv2.putText(frame, f"FRAGILE {words}", (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 20, 2)


def frames(count: int, kind: str) -> list[np.ndarray]:
    """Bench frames made here: clutter, then per kind three codes, print, or nothing; turned."""
    rng = np.random.default_rng(1)
    made = []
    for i in range(count):
        frame = clutter(rng)
        if kind == "print, no code":
            print_and_edges(frame, rng)
        for j, (text, fmt, scale) in enumerate(CODES if kind == "3 codes" else []):
            image = np.array(zxingcpp.create_barcode(text, fmt).to_image(scale=scale))
            image = cv2.copyMakeBorder(image, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)
            x, y = 150 + 550 * j + int(rng.integers(0, 100)), 200 + int(rng.integers(0, 400))
            frame[y : y + image.shape[0], x : x + image.shape[1]] = image
        turn = cv2.getRotationMatrix2D((960, 540), float(rng.uniform(-10, 10)), 1.0)
        made.append(cv2.warpAffine(frame, turn, (1920, 1080), borderValue=128) if i else frame)
    return made


FRAME_KINDS = ("3 codes", "clutter, no code", "print, no code")


def frame_table(count: int) -> None:
    """Per kind, the three decoders over the same frames, interleaved frame by frame."""
    rows = []
    for kind in FRAME_KINDS:
        made = frames(count, kind)
        runs: dict[str, Callable[[np.ndarray], list[Any]]] = {
            "FrameDecoder.decode": FrameDecoder().decode,
            "decode()": decode,
            "zxing-cpp (default options)": raw_zxing,
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        found: dict[str, list[int]] = {name: [] for name in runs}
        for run in runs.values():
            run(made[0])  # warm-up; FrameDecoder allocates its buffers here
        for frame in made:
            for name, run in runs.items():
                start = time.perf_counter()
                found[name].append(len(run(frame)))
                times[name].append((time.perf_counter() - start) * 1000)
        raw = statistics.median(times["zxing-cpp (default options)"])
        for name in runs:
            ms = sorted(times[name])
            p50, p90 = statistics.median(ms), ms[int(0.9 * (len(ms) - 1))]
            rows.append([kind, name, f"{p50:.1f}", f"{p90:.1f}", f"{ms[-1]:.1f}",
                         f"{statistics.fmean(ms):.1f}", f"{p50 / raw:.2f}",
                         f"{statistics.fmean(found[name]):.1f}"])  # fmt: skip
    head = ["frames", "decoder", "p50 ms", "p90 ms", "max ms", "mean ms", "p50 / raw zxing",
            "codes found"]  # fmt: skip
    print_table(head, rows)


def print_table(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(map(len, column)) for column in zip(head, *rows, strict=True)]
    for cells in [head, ["-" * w for w in widths], *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(cells, widths, strict=True))))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpus/barcodes")
    parser.add_argument("--frames", type=int, default=30)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        parser.error(f"no corpus at {args.corpus}")
    cv2.setNumThreads(1)
    cpus = f"nproc {os.cpu_count()}, pinned to {len(os.sched_getaffinity(0))}"
    print(f"{cpus} | zxing-cpp {version('zxing-cpp')} | OpenCV {cv2.__version__}"
          " | one thread, image loading excluded\n")  # fmt: skip
    print("Shared corpus, images read with the exact payload (EAN/UPC compared as GTINs):")
    corpus_table(args.corpus)
    print(f"\n1920x1080 frames made by the benchmark ({args.frames} of each kind):")
    frame_table(args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
