"""Bulk import of products and orders from CSV or JSON lines files.

Reading and applying are separate steps so that the caller owns the transactions:
`product_rows()` / `order_rows()` stream a file into validated rows (or rejections), and the
caller feeds them in batches to `import_products()` / `import_orders()`, committing after each
batch. Rows are checked with the API's own models and services, so the rules are the same.
"""

import codecs
import csv
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from qc.catalogue import upsert_product
from qc.errors import InvalidInput, QCError
from qc.orders import clean_order_code, upsert_order
from qc.schemas import OrderIn, OrderNumber, ProductIn, Sku

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
PRODUCT_COLUMNS = (
    "sku",
    "name",
    "weight_g",
    "barcodes",
    "components",
    "requires_serial",
    "tracks_lot",
)
ORDER_COLUMNS = ("number", "customer_ref", "sku", "qty")
INVALID_FILE = "invalid_file"
_SHOWN_ERRORS = 5  # as many field errors as the API's 422 detail lists

D = TypeVar("D", bound=BaseModel)
Loc = tuple[int | str, ...]


@dataclass(frozen=True)
class Rejection:
    """A row (or an order's rows) left out, with where it is in the file and why."""

    lines: tuple[int, ...]
    key: str | None
    code: str
    message: str


@dataclass(frozen=True)
class Row(Generic[D]):
    """One validated product or order, keyed by SKU or order number."""

    lines: tuple[int, ...]
    key: str
    data: D


@dataclass
class ImportReport:
    """What an import (or one batch of it) did."""

    created: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def add(self, other: "ImportReport") -> None:
        self.created += other.created
        self.updated += other.updated
        self.rejected.extend(other.rejected)


class _ProductRecord(ProductIn):
    """A `PUT /products/{sku}` body with its SKU."""

    sku: Sku


class _OrderRecord(OrderIn):
    """A `PUT /orders/{number}` body with its number."""

    number: OrderNumber


_ORDER_NUMBER: TypeAdapter[str] = TypeAdapter(OrderNumber)


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


def product_rows(path: Path, *, fmt: str | None = None) -> Iterator[Row[ProductIn] | Rejection]:
    """Read products: plain products first, then kits, so a kit may precede its parts.

    The file is read twice rather than holding the kits in memory; a row that fails
    validation is rejected on the first pass only.

    Raises:
        InvalidInput: the file as a whole cannot be read (code `invalid_file`).
    """
    fmt = file_format(path, fmt)
    for kits in (False, True):
        for item in _product_records(path, fmt):
            if isinstance(item, Rejection):
                if not kits:
                    yield item
            elif bool(item.data.components) == kits:
                yield item


def order_rows(path: Path, *, fmt: str | None = None) -> Iterator[Row[OrderIn] | Rejection]:
    """Read orders: a JSON line per order, or CSV rows grouped by order number.

    CSV rows of one order need not be next to each other, so the whole file is read before
    the first order is returned; only the cells of each row are kept meanwhile.

    Raises:
        InvalidInput: the file as a whole cannot be read (code `invalid_file`).
    """
    if file_format(path, fmt) == "csv":
        yield from _grouped_orders(path)
        return
    for item in _json_lines(path):
        if isinstance(item, Rejection):
            yield item
            continue
        line, obj = item
        try:
            record = _OrderRecord.model_validate(obj)
        except ValidationError as exc:
            yield Rejection((line,), _field(obj, "number"), "invalid_request", _summary(exc))
            continue
        yield Row((line,), clean_order_code(record.number), record)


def import_products(
    *, session: Session, rows: Iterable[Row[ProductIn] | Rejection]
) -> ImportReport:
    """Create or replace each product of a batch, each under its own savepoint; no commit.

    Returns:
        What was created, updated and rejected, the rejections passed in included.
    """
    return _apply(
        session, rows, lambda row: upsert_product(session=session, sku=row.key, data=row.data)[1]
    )


def import_orders(*, session: Session, rows: Iterable[Row[OrderIn] | Rejection]) -> ImportReport:
    """Create or replace each order of a batch, each under its own savepoint; no commit.

    Returns:
        What was created, updated and rejected, the rejections passed in included.
    """
    return _apply(
        session, rows, lambda row: upsert_order(session=session, number=row.key, data=row.data)[1]
    )


def _apply(
    session: Session, rows: Iterable[Row[D] | Rejection], upsert: Callable[[Row[D]], bool]
) -> ImportReport:
    report = ImportReport()
    for row in rows:
        if isinstance(row, Rejection):
            report.rejected.append(row)
            continue
        try:
            with session.begin_nested():
                created = upsert(row)
        except QCError as exc:
            report.rejected.append(Rejection(row.lines, row.key, exc.code, exc.message))
            continue
        except IntegrityError as exc:
            # Only a concurrent writer gets here (the services check first): skip the row alone.
            reason = str(exc.orig).splitlines()[0] if exc.orig else "integrity error"
            report.rejected.append(
                Rejection(row.lines, row.key, "conflict", f"the database refused it: {reason}")
            )
            continue
        if created:
            report.created += 1
        else:
            report.updated += 1
    return report


def _product_records(path: Path, fmt: str) -> Iterator[Row[ProductIn] | Rejection]:
    for item in _json_lines(path) if fmt == "jsonl" else _csv_products(path):
        if isinstance(item, Rejection):
            yield item
            continue
        line, obj = item
        try:
            record = _ProductRecord.model_validate(obj)
        except ValidationError as exc:
            yield Rejection((line,), _field(obj, "sku"), "invalid_request", _summary(exc))
            continue
        yield Row((line,), record.sku, record)


def _csv_products(path: Path) -> Iterator[tuple[int, dict[str, Any]] | Rejection]:
    for item in _csv(path, PRODUCT_COLUMNS, ("sku", "name")):
        yield item if isinstance(item, Rejection) else (item[0], _product_fields(item[1]))


def _product_fields(cells: dict[str, str]) -> dict[str, Any]:
    """A product's CSV cells as a `PUT /products` body; empty cells take the defaults."""
    fields: dict[str, Any] = {name: value for name, value in cells.items() if value}
    if "barcodes" in fields:
        fields["barcodes"] = [
            _starred(part, "code", "pack_qty") for part in _parts(fields["barcodes"])
        ]
    if "components" in fields:
        fields["components"] = [
            _starred(part, "sku", "qty") for part in _parts(fields["components"])
        ]
    return fields


def _parts(cell: str) -> list[str]:
    return [part.strip() for part in cell.split("|") if part.strip()]


def _starred(part: str, name: str, qty: str) -> dict[str, str]:
    """`CODE*6` as {name: CODE, qty: 6}; without a star the quantity takes its default."""
    value, star, count = part.rpartition("*")
    return {name: value.strip(), qty: count.strip()} if star else {name: part}


def _grouped_orders(path: Path) -> Iterator[Row[OrderIn] | Rejection]:
    groups: dict[str, _OrderGroup] = {}
    for item in _csv(path, ORDER_COLUMNS, ("number", "sku", "qty")):
        if isinstance(item, Rejection):
            yield item
            continue
        line, cells = item
        try:
            number = clean_order_code(_ORDER_NUMBER.validate_python(cells["number"]))
        except ValidationError as exc:
            yield Rejection((line,), None, "invalid_request", _summary(exc, lambda loc: "number"))
            continue
        group = groups.setdefault(number, _OrderGroup())
        group.lines.append(line)
        group.items.append((cells["sku"], cells["qty"]))
        group.customer_ref = group.customer_ref or cells.get("customer_ref") or None
    for number, group in groups.items():
        lines = tuple(group.lines)
        body = {
            "customer_ref": group.customer_ref,
            "lines": [{"sku": s, "qty": q} for s, q in group.items],
        }
        try:
            data = OrderIn.model_validate(body)
        except ValidationError as exc:
            yield Rejection(lines, number, "invalid_request", _summary(exc, group.where))
            continue
        yield Row(lines, number, data)


@dataclass
class _OrderGroup:
    """An order's CSV rows, kept as plain strings until the whole file is read."""

    lines: list[int] = field(default_factory=list)
    items: list[tuple[str, str]] = field(default_factory=list)
    customer_ref: str | None = None

    def where(self, loc: Loc) -> str:
        """Name an order line by its line in the file rather than its index in the order."""
        if len(loc) >= 2 and loc[0] == "lines" and isinstance(loc[1], int):
            return " ".join([f"line {self.lines[loc[1]]}", _dotted(loc[2:])]).strip()
        return _dotted(loc)


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


def _csv(
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


def _json_lines(path: Path) -> Iterator[tuple[int, Any] | Rejection]:
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


def _field(obj: object, name: str) -> str | None:
    """A row's key for its rejection, when the row has one."""
    value = obj.get(name) if isinstance(obj, dict) else None
    return (value.strip() or None) if isinstance(value, str) else None


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


def _summary(exc: ValidationError, where: Callable[[Loc], str] = _dotted) -> str:
    """Pydantic's errors as `field: message; …`, like the API's 422 detail."""
    errors: list[ErrorDetails] = exc.errors()
    labelled = [(where(e["loc"]), e["msg"]) for e in errors[:_SHOWN_ERRORS]]
    parts = [f"{label}: {msg}" if label else msg for label, msg in labelled]
    if len(errors) > _SHOWN_ERRORS:
        parts.append(f"and {len(errors) - _SHOWN_ERRORS} more")
    return "; ".join(parts)
