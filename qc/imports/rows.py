"""Turning a file's cells or objects into validated products and orders.

Rows are checked with the API's own models (`PUT /products/{sku}`, `PUT /orders/{number}`),
so the rules are the same; pydantic's errors are summarised like the API's 422 detail.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from qc.imports.files import Rejection, csv_rows, file_format, json_lines
from qc.orders import clean_order_code
from qc.schemas import OrderIn, OrderNumber, ProductIn, Sku

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
_SHOWN_ERRORS = 5  # as many field errors as the API's 422 detail lists

D = TypeVar("D", bound=BaseModel)
Loc = tuple[int | str, ...]


@dataclass(frozen=True)
class Row(Generic[D]):
    """One validated product or order, keyed by SKU or order number."""

    lines: tuple[int, ...]
    key: str
    data: D


class _ProductRecord(ProductIn):
    """A `PUT /products/{sku}` body with its SKU."""

    sku: Sku


class _OrderRecord(OrderIn):
    """A `PUT /orders/{number}` body with its number."""

    number: OrderNumber


_ORDER_NUMBER: TypeAdapter[str] = TypeAdapter(OrderNumber)


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
    for item in json_lines(path):
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


def _product_records(path: Path, fmt: str) -> Iterator[Row[ProductIn] | Rejection]:
    for item in json_lines(path) if fmt == "jsonl" else _csv_products(path):
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
    for item in csv_rows(path, PRODUCT_COLUMNS, ("sku", "name")):
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
    for item in csv_rows(path, ORDER_COLUMNS, ("number", "sku", "qty")):
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
