"""`qc decode [--json] IMAGE…`: the codes in image files, one line per image.

With --json each line is `{"path", "codes": [{"text", "format", "gtin"}], "ms"}` (`ms`: the
decoding time, image loading excluded), or `{"path", "error"}` for a file that cannot be read;
an unreadable file does not stop the run. Exit code 0 when every file could be read, else 1.
"""

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer


def _read(path: Path) -> tuple[Any, str | None]:
    """The image in grayscale, or None and why not."""
    import cv2  # here, not at the top: every other `qc` command would pay for loading OpenCV

    if not path.is_file():
        return None, "no such file"
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        return None, "not an image this tool can read"
    return gray, None


def _line(path: Path, as_json: bool) -> tuple[str, bool]:
    """The line for one image, and whether the image could be read."""
    gray, error = _read(path)
    if error is not None:
        text = json.dumps({"path": str(path), "error": error}) if as_json else f"{path}: {error}"
        return text, False
    from qc.vision.decode import decode

    start = time.perf_counter()
    codes = decode(gray)
    ms = round((time.perf_counter() - start) * 1000, 2)
    if as_json:
        found = [{"text": c.text, "format": c.format, "gtin": c.gtin} for c in codes]
        return json.dumps({"path": str(path), "codes": found, "ms": ms}, ensure_ascii=False), True
    if not codes:
        return f"{path}: no code ({ms} ms)", True
    shown = "; ".join(
        f"{c.format} {c.text!r}" + (f" GTIN {c.gtin}" if c.gtin else "") for c in codes
    )
    return f"{path}: {shown} ({ms} ms)", True


def decode_command(
    images: Annotated[list[Path], typer.Argument(help="Image files (PNG, JPEG, WebP, …).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Read the barcodes in image files."""
    all_read = True
    for path in images:
        line, read = _line(path, as_json)
        typer.echo(line)
        all_read &= read
    raise typer.Exit(0 if all_read else 1)
