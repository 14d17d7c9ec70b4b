"""Reading import files: the format, UTF-8 text, CSV rows with their line numbers, JSON lines.

A row that cannot be read is returned as a `Rejection`; a file that cannot be read at all
(unreadable, not UTF-8, a bad CSV header) raises `InvalidInput` with the code `invalid_file`.
"""

import codecs
import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from qc.errors import InvalidInput

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
INVALID_FILE = "invalid_file"


@dataclass(frozen=True)
class Rejection:
    """A row (or an order's rows) left out, with where it is in the file and why."""

    lines: tuple[int, ...]
    key: str | None
    code: str
    message: str


def file_format(path: Path, fmt: str | None = None) -> str:
    """The file's format: `fmt` when given, else the one its extension names.

    Raises:
        InvalidInput: the format is unknown or cannot be told from the name.
    """
    if fmt is not None and fmt not in ("csv", "jsonl"):
        raise _file_error(f"unknown format {fmt!r}: the formats are csv and jsonl")
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise _file_error(
            f"cannot tell the format of {path.name}: name it .csv, .jsonl or .ndjson, or say which"
        )
    return fmt


def count_lines(path: Path) -> int:
    """The number of lines in the file, after checking that all of it is UTF-8 text.

    Reading the file once up front means an import never stops halfway, with batches already
    committed, on a byte that is not text; and it gives a progress bar its length.

    Raises:
        InvalidInput: the file cannot be read or is not UTF-8.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, last = 0, b"\n"
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    line = lines + chunk.count(b"\n", 0, max(exc.start, 0)) + 1
                    raise _file_error(f"{path.name} is not UTF-8 text (line {line})") from None
                lines, last = lines + chunk.count(b"\n"), chunk[-1:]
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _file_error(f"{path.name} is not UTF-8 text (it ends mid-character)") from None
    except OSError as exc:
        raise _file_error(f"cannot read {path}: {exc.strerror or exc}") from None
    return lines if last == b"\n" else lines + 1


@contextmanager
def _reading(path: Path) -> Iterator[TextIO]:
    """The file as text; a BOM is dropped, and newlines are left to the CSV reader."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            yield f
    except UnicodeDecodeError:
        raise _file_error(f"{path.name} is not UTF-8 text") from None
    except OSError as exc:
        raise _file_error(f"cannot read {path}: {exc.strerror or exc}") from None


def csv_rows(
    path: Path, columns: tuple[str, ...], required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]] | Rejection]:
    """Each non-blank row as (its first line, {column: stripped cell}).

    csv.reader rather than DictReader: DictReader skips blank rows out of sight, which would
    make the line a row starts on unknowable (a quoted cell may span lines).
    """
    with _reading(path) as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise _file_error(f"{path.name} is empty: a CSV file starts with a header row")
        names = [name.strip().lower() for name in header]
        _check_header(path, names, columns, required)
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(names):
                message = f"the row has {len(cells)} cells and the header {len(names)}"
                yield Rejection((start,), None, "invalid_request", message)
                continue
            yield start, {name: cell.strip() for name, cell in zip(names, cells, strict=True)}


def _check_header(
    path: Path, names: list[str], columns: tuple[str, ...], required: tuple[str, ...]
) -> None:
    unknown = [name for name in names if name not in columns]
    missing = [name for name in required if name not in names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    problems = [
        f"unknown column(s) {', '.join(unknown)}" if unknown else "",
        f"missing column(s) {', '.join(missing)}" if missing else "",
        f"repeated column(s) {', '.join(repeated)}" if repeated else "",
    ]
    if any(problems):
        known = ", ".join(columns)
        detail = "; ".join(p for p in problems if p)
        raise _file_error(f"{path.name}: {detail} (the columns are {known})")


def json_lines(path: Path) -> Iterator[tuple[int, Any] | Rejection]:
    """Each non-blank line as (its number, the JSON object it holds)."""
    with _reading(path) as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                message = f"not valid JSON: {exc.msg} (column {exc.colno})"
                yield Rejection((number,), None, "invalid_json", message)
                continue
            if not isinstance(obj, dict):
                yield Rejection((number,), None, "invalid_json", "a line holds one JSON object")
                continue
            yield number, obj


def _file_error(message: str) -> InvalidInput:
    """An error about the whole file (its name, header or encoding), not one of its rows."""
    return InvalidInput(message, code=INVALID_FILE)
