"""The events a parcel sends out: held at the bench, shipped, and shipped short.

Each is queued in the transaction of the change (qc.webhooks.emit), read from the parcel's own
rows in one query or two, so that a shop learns of it from the outbox and never from a guess.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from qc.enums import DefectKind
from qc.models import Defect, Order, Parcel, Product, Station, User, WebhookEvent
from qc.schemas import DefectOut
from qc.webhooks import emit


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def emit_held(session: Session, *, parcel_id: int, defects: Sequence[DefectOut]) -> WebhookEvent:
    """Queue `parcel.held`: which parcel of which order, where, by whom, and what holds it.

    Args:
        session: the transaction that closed the parcel.
        parcel_id: the parcel just closed as held.
        defects: the verdict's findings.

    Returns:
        The queued event.
    """
    row = (
        session.connection()
        .execute(
            sa.select(
                col(Order.number),
                col(Order.customer_ref),
                col(Station.code),
                col(User.name),
                col(Parcel.closed_at),
            )
            .select_from(Parcel)
            .join(Order, col(Parcel.order_id) == Order.id)
            .join(Station, col(Parcel.station_id) == Station.id)
            .join(User, col(Parcel.packer_id) == User.id)
            .where(col(Parcel.id) == parcel_id)
        )
        .one()
    )
    data: dict[str, Any] = {
        "parcel_id": parcel_id,
        "order": row.number,
        "customer_ref": row.customer_ref,
        "station": row.code,
        "packer": row.name,
        "closed_at": _iso(row.closed_at),
        "defects": [d.model_dump(mode="json") for d in defects],
    }
    return emit(session, "parcel.held", data)


def missing_lines(session: Session, parcel_id: int) -> list[dict[str, Any]]:
    """The units declared short, by SKU and reason: `[{sku, name, qty, reason}]`."""
    rows = (
        session.connection()
        .execute(
            sa.select(col(Product.sku), col(Product.name), col(Defect.qty), col(Defect.reason))
            .join(Product, col(Defect.product_id) == Product.id)
            .where(col(Defect.parcel_id) == parcel_id, col(Defect.kind) == DefectKind.SHORT_SHIP)
            .order_by(col(Defect.id))
        )
        .all()
    )
    lines: dict[tuple[str, str | None], dict[str, Any]] = {}
    for sku, name, qty, reason in rows:
        line = lines.setdefault(
            (sku, reason), {"sku": sku, "name": name, "qty": 0, "reason": reason}
        )
        line["qty"] += qty
    return list(lines.values())


def emit_shipped(session: Session, *, parcel: Parcel) -> list[WebhookEvent]:
    """Queue `parcel.shipped` and, when units were declared short, `parcel.short_shipped` with
    the missing lines: what a shop needs to tell the customer before the parcel arrives.

    Args:
        session: the transaction that shipped the parcel.
        parcel: the parcel, already marked shipped.

    Returns:
        The queued events.
    """
    assert parcel.id is not None
    order = session.get(Order, parcel.order_id)
    assert order is not None
    common: dict[str, Any] = {
        "parcel_id": parcel.id,
        "order": order.number,
        "customer_ref": order.customer_ref,
        "tracking_number": parcel.tracking_number,
        "shipped_at": _iso(parcel.shipped_at),
    }
    events = [emit(session, "parcel.shipped", {**common, "sscc": parcel.sscc})]
    missing = missing_lines(session, parcel.id)
    if missing:
        events.append(emit(session, "parcel.short_shipped", {**common, "missing": missing}))
    return events
