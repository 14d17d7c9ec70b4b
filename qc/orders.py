"""Orders and their lines; what a packing slip's code says; the units a parcel must hold."""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import bindparam
from sqlmodel import Session, col, delete, select

from qc.catalogue import products_by_sku
from qc.errors import Conflict, InvalidInput, NotFound
from qc.lookup_keys import lookup_key
from qc.models import KitComponent, Order, OrderLine, Parcel, Product, utcnow
from qc.schemas import OrderIn, OrderLineOut, OrderOut

_SYMBOLOGY_ID = re.compile(r"^\][A-Za-z][0-9A-Za-z]")


def clean_order_code(text: str) -> str:
    """The order number in a scanned or typed slip code.

    Scanners may prefix a symbology identifier (`]C0`) and people type a leading `#`.
    """
    text = _SYMBOLOGY_ID.sub("", text.strip()).strip()
    return text.removeprefix("#").strip()


def find_order(session: Session, code: str) -> Order:
    number = clean_order_code(code)
    printable = all(ord(c) >= 32 for c in number)  # no order is stored with control characters
    order = session.exec(select(Order).where(Order.number == number)).first() if printable else None
    if order is None:
        raise NotFound(f"no order {number!r}", code="order_not_found")
    return order


def live_parcel(session: Session, order_id: int, *, lock: bool = False) -> Parcel | None:
    """The order's parcel that is not voided, if any: there is at most one."""
    query = select(Parcel).where(Parcel.live_order_id == order_id)
    return session.exec(query.with_for_update() if lock else query).first()


def upsert_order(*, session: Session, number: str, data: OrderIn) -> tuple[Order, bool]:
    """Create or replace an order; lines of the same SKU are added together.

    Raises:
        InvalidInput: the number is blank or a SKU is unknown.
        Conflict: packing of the order has started.
    """
    number = clean_order_code(number)
    if not number or len(number) > 64 or any(ord(c) < 32 for c in number):
        raise InvalidInput(
            "an order number is 1 to 64 printable characters", code="invalid_order_number"
        )
    qty: dict[str, int] = {}
    for line in data.lines:
        qty[line.sku] = qty.get(line.sku, 0) + line.qty
    products = products_by_sku(session, set(qty))
    unknown = sorted(set(qty) - set(products))
    if unknown:
        raise InvalidInput(f"unknown SKU(s): {', '.join(unknown)}", code="unknown_sku")
    order = session.exec(select(Order).where(Order.number == number)).first()
    created = order is None
    ref_key = lookup_key(data.customer_ref or "") or None  # what support's lookup compares
    if order is None:
        order = Order(
            number=number,
            customer_ref=data.customer_ref,
            number_key=lookup_key(number),
            ref_key=ref_key,
        )
        session.add(order)
        session.flush()
    else:
        assert order.id is not None
        parcel = live_parcel(session, order.id)
        if parcel is not None:
            raise Conflict(
                f"order {number} cannot change: parcel {parcel.id} is {parcel.status}",
                code="order_locked",
            )
        order.customer_ref, order.updated_at = data.customer_ref, utcnow()
        order.number_key, order.ref_key = lookup_key(number), ref_key
        session.exec(delete(OrderLine).where(col(OrderLine.order_id) == order.id))
    assert order.id is not None
    session.add_all(
        OrderLine(order_id=order.id, product_id=products[sku].id, qty=n)  # type: ignore[arg-type]
        for sku, n in qty.items()
    )
    session.flush()
    return order, created


def order_out(session: Session, order: Order) -> OrderOut:
    lines = session.exec(
        select(Product.sku, OrderLine.qty)
        .join(OrderLine, col(OrderLine.product_id) == Product.id)
        .where(OrderLine.order_id == order.id)
        .order_by(col(OrderLine.id))
    )
    return OrderOut(
        number=order.number,
        customer_ref=order.customer_ref,
        lines=[OrderLineOut(sku=sku, qty=qty) for sku, qty in lines],
        updated_at=order.updated_at,
    )


@dataclass
class ExpectedUnits:
    product_id: int
    expected: int = 0
    kit_qty: int = 0


_ORDER_LINES = (
    sa.select(col(Product.id), col(Product.is_kit), col(OrderLine.qty))
    .join(OrderLine, col(OrderLine.product_id) == Product.id)
    .where(col(OrderLine.order_id) == bindparam("order_id"))
    .order_by(col(OrderLine.id))
)
_KIT_PARTS = (
    sa.select(col(KitComponent.kit_id), col(KitComponent.component_id), col(KitComponent.qty))
    .join(Product, col(KitComponent.component_id) == Product.id)
    .where(col(KitComponent.kit_id).in_(bindparam("kit_ids", expanding=True)))
    .order_by(col(Product.sku))
)


def expected_units(session: Session, order: Order) -> list[ExpectedUnits]:
    """The units a parcel of `order` must hold: its lines with kits expanded to components."""
    connection = session.connection()
    rows = connection.execute(_ORDER_LINES, {"order_id": order.id}).all()
    kit_ids = [product_id for product_id, is_kit, _ in rows if is_kit]
    parts: dict[int, list[tuple[int, int]]] = {}
    if kit_ids:
        for kit_id, part_id, per_kit in connection.execute(_KIT_PARTS, {"kit_ids": kit_ids}):
            parts.setdefault(kit_id, []).append((part_id, per_kit))
    units: dict[int, ExpectedUnits] = {}
    for product_id, is_kit, qty in rows:
        assert product_id is not None
        if not is_kit:
            units.setdefault(product_id, ExpectedUnits(product_id)).expected += qty
            continue
        for part_id, per_kit in parts.get(product_id, []):
            entry = units.setdefault(part_id, ExpectedUnits(part_id))
            entry.expected += qty * per_kit
            entry.kit_qty += qty * per_kit
    return list(units.values())
