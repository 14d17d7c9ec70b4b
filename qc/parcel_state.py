"""A parcel as the pure verification module sees it, and as the API shows it.

Reading a parcel's lines and writing its counters back happen on every scan, so they use
prebuilt Core statements on plain rows rather than ORM objects: the unit of work costs more
than the statements it runs.
"""

from dataclasses import dataclass, replace
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from qc import verification as v
from qc.catalogue import PRODUCT_COLUMNS, ProductRef, product_ref
from qc.enums import ParcelStatus
from qc.errors import Conflict, Forbidden, NotFound
from qc.identity import Principal
from qc.models import Defect, Order, Parcel, ParcelLine, Product, Station, User, utcnow
from qc.schemas import LineOut, ParcelOut


class ParcelLike(Protocol):
    """What the state functions need of a parcel: an ORM `Parcel` or a `ParcelRow`."""

    @property
    def id(self) -> int | None: ...
    @property
    def station_id(self) -> int: ...
    @property
    def packer_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def pending_serial_sku(self) -> str | None: ...
    @property
    def weight_g(self) -> int | None: ...


@dataclass(frozen=True)
class ParcelRow:
    """A parcel read for a scan: only the columns a scan reads."""

    id: int
    station_id: int
    packer_id: int
    status: str
    pending_serial_sku: str | None
    weight_g: int | None


# Statements on the scan path are built once: building one costs more than running it.
_PARCEL = select(Parcel).where(Parcel.id == bindparam("parcel_id"))
_PARCEL_LOCKED = _PARCEL.with_for_update()
_PARCEL_ROW = (
    sa.select(
        col(Parcel.id),
        col(Parcel.station_id),
        col(Parcel.packer_id),
        col(Parcel.status),
        col(Parcel.pending_serial_sku),
        col(Parcel.weight_g),
    )
    .where(col(Parcel.id) == bindparam("parcel_id"))
    .with_for_update()
)
_LINE_COLUMNS: tuple[Any, ...] = (
    col(ParcelLine.id).label("line_id"),
    col(ParcelLine.expected),
    col(ParcelLine.kit_qty),
    col(ParcelLine.accepted),
    col(ParcelLine.damaged),
    col(ParcelLine.short),
    *PRODUCT_COLUMNS,
)
_LINES = (
    sa.select(*_LINE_COLUMNS)
    .join(Product, col(ParcelLine.product_id) == Product.id)
    .where(col(ParcelLine.parcel_id) == bindparam("parcel_id"))
    .order_by(col(ParcelLine.id))
)
SAVE_LINE = (
    update(ParcelLine)
    .where(col(ParcelLine.id) == bindparam("line_id"))
    .values(
        accepted=bindparam("new_accepted"),
        damaged=bindparam("new_damaged"),
        short=bindparam("new_short"),
    )
)
_SAVE_PENDING = (
    update(Parcel)
    .where(col(Parcel.id) == bindparam("parcel_id"))
    .values(pending_serial_sku=bindparam("pending"))
)
_ADD_DEFECT = insert(Defect)


def find_parcel(session: Session, parcel_id: int, *, lock: bool = False) -> Parcel:
    """The parcel; with `lock`, locked for the rest of the transaction so changes queue."""
    query = _PARCEL_LOCKED if lock else _PARCEL
    parcel = session.exec(query, params={"parcel_id": parcel_id}).first()
    if parcel is None:
        raise NotFound(f"no parcel {parcel_id}", code="parcel_not_found")
    return parcel


def lock_parcel(session: Session, parcel_id: int) -> Parcel:
    return find_parcel(session, parcel_id, lock=True)


def _check_station(parcel: ParcelLike, station: Principal, statuses: tuple[str, ...]) -> None:
    if parcel.station_id != station.id:
        raise Forbidden(
            f"parcel {parcel.id} is being handled by another station", code="not_your_parcel"
        )
    if statuses and parcel.status not in statuses:
        raise Conflict(f"parcel {parcel.id} is {parcel.status}", code=f"parcel_{parcel.status}")


def station_parcel(session: Session, parcel_id: int, station: Principal, *statuses: str) -> Parcel:
    """The station's own parcel, locked, in one of `statuses`.

    Raises:
        NotFound: no such parcel.
        Forbidden: the parcel belongs to another station.
        Conflict: the parcel is not in one of `statuses`.
    """
    parcel = lock_parcel(session, parcel_id)
    _check_station(parcel, station, statuses)
    return parcel


def station_parcel_row(
    session: Session, parcel_id: int, station: Principal, *statuses: str
) -> ParcelRow:
    """`station_parcel` for the scan path: the same checks and lock, read as a plain row."""
    row = session.connection().execute(_PARCEL_ROW, {"parcel_id": parcel_id}).first()
    if row is None:
        raise NotFound(f"no parcel {parcel_id}", code="parcel_not_found")
    parcel = ParcelRow(**row._mapping)
    _check_station(parcel, station, statuses)
    return parcel


@dataclass
class Loaded:
    """The pure state of a parcel, with its line ids and products, to write it back."""

    state: v.ParcelState
    line_ids: dict[str, int]
    products: dict[str, ProductRef]


def load(session: Session, parcel: ParcelLike) -> Loaded:
    rows = session.connection().execute(_LINES, {"parcel_id": parcel.id}).all()
    products = {r.sku: product_ref(r) for r in rows}
    lines = tuple(
        v.Line(r.sku, r.expected, r.kit_qty, r.accepted, r.damaged, r.short, r.weight_g)
        for r in rows
    )
    # Serials already taken are asked of the database per scan (qc.scanning), across parcels.
    state = v.ParcelState(
        lines=lines,
        pending_serial=parcel.pending_serial_sku,
        weight_g=parcel.weight_g,
    )
    return Loaded(state, {r.sku: r.line_id for r in rows}, products)


def changed_lines(loaded: Loaded, state: v.ParcelState) -> list[dict[str, int]]:
    """The parameters of `SAVE_LINE` for each line whose counts differ in `state`."""
    before = {line.sku: line for line in loaded.state.lines}
    return [
        {"line_id": loaded.line_ids[line.sku], "new_accepted": line.accepted,
         "new_damaged": line.damaged, "new_short": line.short}
        for line in state.lines
        if line != before[line.sku]
    ]  # fmt: skip


def save(session: Session, parcel: ParcelLike, loaded: Loaded, state: v.ParcelState) -> Loaded:
    """Write what changed in `state` back: the lines' counters and the awaited serial.

    An ORM `Parcel` gets the awaited serial set on it (its flush writes it); a `ParcelRow` has
    it written at once.
    """
    changed = changed_lines(loaded, state)
    if changed:
        session.connection().execute(SAVE_LINE, changed)
    if state.pending_serial != loaded.state.pending_serial:
        if isinstance(parcel, Parcel):
            parcel.pending_serial_sku = state.pending_serial
            session.add(parcel)
        else:
            params = {"parcel_id": parcel.id, "pending": state.pending_serial}
            session.connection().execute(_SAVE_PENDING, params)
    return replace(loaded, state=state)


def add_defect(
    session: Session,
    parcel: ParcelLike,
    kind: str,
    *,
    product: ProductRef | None,
    qty: int = 1,
    scan_id: int | None = None,
    expected_product_id: int | None = None,
    reason: str | None = None,
    stage: str = "caught",
    complaint_id: int | None = None,
) -> None:
    session.connection().execute(
        _ADD_DEFECT,
        {
            "parcel_id": parcel.id,
            "kind": kind,
            "stage": stage,
            "product_id": product.id if product else None,
            "qty": qty,
            "station_id": parcel.station_id,
            "packer_id": parcel.packer_id,
            "scan_id": scan_id,
            "expected_product_id": expected_product_id,
            "reason": reason,
            "complaint_id": complaint_id,
            "created_at": utcnow(),
        },
    )


def line_views(loaded: Loaded) -> list[LineOut]:
    return [
        LineOut(
            sku=line.sku,
            name=loaded.products[line.sku].name,
            expected=line.expected,
            scanned=line.good,
            damaged=line.damaged,
            short=line.short,
            status=line.status,
        )
        for line in loaded.state.lines
    ]


def parcel_out(session: Session, parcel: Parcel, loaded: Loaded | None = None) -> ParcelOut:
    loaded = loaded or load(session, parcel)
    order, station, packer = session.exec(
        select(Order.number, Station.code, User.name)
        .select_from(Parcel)
        .join(Order, col(Parcel.order_id) == Order.id)
        .join(Station, col(Parcel.station_id) == Station.id)
        .join(User, col(Parcel.packer_id) == User.id)
        .where(Parcel.id == parcel.id)
    ).one()
    return ParcelOut(
        id=parcel.id,
        order=order,
        status=ParcelStatus(parcel.status),
        station=station,
        packer=packer,
        remaining=loaded.state.remaining,
        lines=line_views(loaded),
        awaiting_serial=parcel.pending_serial_sku,
        weight_g=parcel.weight_g,
        expected_weight_g=parcel.expected_weight_g,
        tracking_number=parcel.tracking_number,
        opened_at=parcel.opened_at,
        closed_at=parcel.closed_at,
        shipped_at=parcel.shipped_at,
    )
