"""Defects found after shipping (what a complaint reports): which parcel left, and its escaped
defects, recorded on it and counted in the statistics against the packing they are about."""

from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from qc.catalogue import product_ref, products_by_sku
from qc.enums import DefectKind, ParcelStatus, Stage
from qc.errors import Conflict, InvalidInput, NotFound
from qc.lookup_keys import lookup_key
from qc.models import Order, Parcel
from qc.orders import clean_order_code, live_parcel
from qc.parcel_state import add_defect, find_parcel, lock_parcel
from qc.rollups import counted

T = TypeVar("T", Order, Parcel)


@dataclass(frozen=True)
class Escaped:
    kind: DefectKind
    sku: str | None = None
    qty: int = 1


def _one(session: Session, model: type[T], exact: Any, key: Any) -> T | None:
    """The row whose identifier is spelled exactly so, else the only one with the same key."""
    found = session.exec(select(model).where(exact)).first()
    if found is not None:
        return found
    twins = session.exec(select(model).where(key).limit(2)).all()
    return twins[0] if len(twins) == 1 else None


def _order(session: Session, text: str) -> Order:
    number = clean_order_code(text)
    order = _one(session, Order, Order.number == number, Order.number_key == lookup_key(text))
    if order is None:
        raise NotFound(f"no order {number!r}", code="order_not_found")
    return order


def _by_tracking(session: Session, text: str) -> Parcel:
    parcel = _one(
        session, Parcel, Parcel.tracking_number == text, Parcel.tracking_key == lookup_key(text)
    )
    if parcel is None:
        raise NotFound(f"no parcel has tracking number {text!r}", code="parcel_not_found")
    return parcel


def _order_parcel(session: Session, order: Order) -> Parcel:
    """The order's parcel that shipped, else its last closed parcel that was not voided."""
    parcel = session.exec(
        select(Parcel)
        .where(
            Parcel.order_id == order.id,
            Parcel.status != ParcelStatus.VOIDED,
            col(Parcel.closed_at).is_not(None),
        )
        .order_by(col(Parcel.shipped_at).is_(None), col(Parcel.closed_at).desc(),
                  col(Parcel.id).desc())
    ).first()  # fmt: skip
    if parcel is not None:
        return parcel
    assert order.id is not None
    packing = live_parcel(session, order.id)
    if packing is not None:
        raise Conflict(f"order {order.number} is still being packed (parcel {packing.id})",
                       code="parcel_not_closed")  # fmt: skip
    raise NotFound(
        f"order {order.number} has no parcel that was closed and not voided",
        code="parcel_not_found",
    )


def _check_left(parcel: Parcel) -> Parcel:
    """Refuse a parcel that cannot have reached a customer."""
    if parcel.status == ParcelStatus.VOIDED:
        raise Conflict(f"parcel {parcel.id} was voided: it never left the bench",
                       code="parcel_voided")  # fmt: skip
    if parcel.closed_at is None:
        raise Conflict(f"parcel {parcel.id} was never closed", code="parcel_not_closed")
    if parcel.status == ParcelStatus.HELD:
        raise Conflict(f"parcel {parcel.id} is held at the bench: it has not left",
                       code="parcel_held")  # fmt: skip
    return parcel


def named_parcel(
    *, session: Session, order: str | None, tracking_number: str | None, parcel_id: int | None
) -> Parcel:
    """The parcel a customer's report is about, by any of its identifiers.

    A parcel id or a tracking number names one parcel (the order, when given too, must be its
    order); an order alone names its parcel that shipped, else its last closed, not voided one.

    Raises:
        InvalidInput: no identifier at all (`no_parcel_given`).
        NotFound: unknown order or parcel.
        Conflict: the identifiers name different parcels (`identifiers_disagree`), or the
            parcel never left the bench (`parcel_not_closed`, `parcel_held`, `parcel_voided`).
    """
    if order is None and tracking_number is None and parcel_id is None:
        raise InvalidInput("name the parcel: an order, a tracking number or a parcel id",
                           code="no_parcel_given")  # fmt: skip
    named = _order(session, order) if order is not None else None
    pinned = [find_parcel(session, parcel_id)] if parcel_id is not None else []
    if tracking_number is not None:
        pinned.append(_by_tracking(session, tracking_number))
    if not pinned:
        assert named is not None
        return _check_left(_order_parcel(session, named))
    parcel = pinned[0]
    if any(p.id != parcel.id for p in pinned) or (named and named.id != parcel.order_id):
        raise Conflict("the order, tracking number and parcel id given name different parcels",
                       code="identifiers_disagree")  # fmt: skip
    return _check_left(parcel)


def record_escaped(
    *,
    session: Session,
    parcel_id: int,
    defects: list[Escaped],
    reason: str | None,
    zone: ZoneInfo,
    complaint_id: int | None = None,
) -> None:
    """Add escaped defects to a closed parcel, in the statistics of the day it was closed.

    Args:
        complaint_id: the complaint that reported them, set on every defect added.

    Raises:
        NotFound: no such parcel, or a SKU the catalogue does not know.
        Conflict: the parcel was never closed (nothing left the bench).
    """
    parcel = lock_parcel(session, parcel_id)
    if parcel.closed_at is None:
        raise Conflict(f"parcel {parcel_id} was never closed", code="parcel_not_closed")
    products = products_by_sku(session, {d.sku for d in defects if d.sku})
    missing = sorted({d.sku for d in defects if d.sku} - products.keys())
    if missing:
        raise NotFound(f"unknown SKU(s): {', '.join(missing)}", code="product_not_found")
    with counted(session, parcel_id, zone):
        for d in defects:
            product = product_ref(products[d.sku]) if d.sku else None
            add_defect(session, parcel, d.kind, product=product, qty=d.qty, reason=reason,
                       stage=Stage.ESCAPED, complaint_id=complaint_id)  # fmt: skip
