"""A parcel as the pure verification module sees it, and as the API shows it."""

from dataclasses import dataclass, replace

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from qc import verification as v
from qc.enums import ParcelStatus
from qc.errors import Conflict, Forbidden, NotFound
from qc.identity import Principal
from qc.models import Defect, Order, Parcel, ParcelLine, Product, Station, User
from qc.schemas import LineOut, ParcelOut

# Statements on the scan path are built once: building one costs more than running it.
_PARCEL = select(Parcel).where(Parcel.id == bindparam("parcel_id"))
_PARCEL_LOCKED = _PARCEL.with_for_update()
_LINES = (
    select(ParcelLine, Product)
    .join(Product, col(ParcelLine.product_id) == Product.id)
    .where(ParcelLine.parcel_id == bindparam("parcel_id"))
    .order_by(col(ParcelLine.id))
)


def find_parcel(session: Session, parcel_id: int, *, lock: bool = False) -> Parcel:
    """The parcel; with `lock`, locked for the rest of the transaction so changes queue."""
    query = _PARCEL_LOCKED if lock else _PARCEL
    parcel = session.exec(query, params={"parcel_id": parcel_id}).first()
    if parcel is None:
        raise NotFound(f"no parcel {parcel_id}", code="parcel_not_found")
    return parcel


def lock_parcel(session: Session, parcel_id: int) -> Parcel:
    return find_parcel(session, parcel_id, lock=True)


def station_parcel(session: Session, parcel_id: int, station: Principal, *statuses: str) -> Parcel:
    """The station's own parcel, locked, in one of `statuses`.

    Raises:
        NotFound: no such parcel.
        Forbidden: the parcel belongs to another station.
        Conflict: the parcel is not in one of `statuses`.
    """
    parcel = lock_parcel(session, parcel_id)
    if parcel.station_id != station.id:
        raise Forbidden(
            f"parcel {parcel_id} is being handled by another station", code="not_your_parcel"
        )
    if statuses and parcel.status not in statuses:
        raise Conflict(f"parcel {parcel_id} is {parcel.status}", code=f"parcel_{parcel.status}")
    return parcel


@dataclass
class Loaded:
    """The pure state of a parcel with the rows it was read from, to write it back."""

    state: v.ParcelState
    rows: dict[str, ParcelLine]
    products: dict[str, Product]


def load(session: Session, parcel: Parcel) -> Loaded:
    rows = session.exec(_LINES, params={"parcel_id": parcel.id}).all()
    lines = tuple(
        v.Line(p.sku, r.expected, r.kit_qty, r.accepted, r.damaged, r.short, p.weight_g)
        for r, p in rows
    )
    # Serials already taken are asked of the database per scan (qc.scanning), across parcels.
    state = v.ParcelState(
        lines=lines,
        pending_serial=parcel.pending_serial_sku,
        weight_g=parcel.weight_g,
    )
    return Loaded(state, {p.sku: r for r, p in rows}, {p.sku: p for _, p in rows})


def save(session: Session, parcel: Parcel, loaded: Loaded, state: v.ParcelState) -> Loaded:
    """Write the counters of `state` back to the parcel's rows."""
    for line in state.lines:
        row = loaded.rows[line.sku]
        row.accepted, row.damaged, row.short = line.accepted, line.damaged, line.short
        session.add(row)
    parcel.pending_serial_sku = state.pending_serial
    session.add(parcel)
    return replace(loaded, state=state)


def add_defect(
    session: Session,
    parcel: Parcel,
    kind: str,
    *,
    product: Product | None,
    qty: int = 1,
    scan_id: int | None = None,
    expected_product_id: int | None = None,
    reason: str | None = None,
) -> Defect:
    defect = Defect(
        parcel_id=parcel.id,  # type: ignore[arg-type]
        kind=kind,
        stage="caught",
        product_id=product.id if product else None,
        qty=qty,
        station_id=parcel.station_id,
        packer_id=parcel.packer_id,
        scan_id=scan_id,
        expected_product_id=expected_product_id,
        reason=reason,
    )
    session.add(defect)
    return defect


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
