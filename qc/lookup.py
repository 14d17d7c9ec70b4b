"""Support's lookup: whatever identifier a customer reads out, the parcels it names.

A query is normalised once (qc.lookup_keys.lookup_key) and then only compared for equality
with indexed columns: customer_order.number_key and ref_key, parcel.tracking_key, sscc and
id. That is at most three short queries, whatever the size of the history: which orders,
which parcels, then the rows to show. No LIKE, no scan.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from qc.errors import InvalidInput
from qc.lookup_keys import lookup_key
from qc.lookup_schemas import LookupOut, LookupResult, Matched
from qc.models import Order, Parcel, Station, User
from qc.schemas import sscc_digits

MAX_QUERY_LENGTH = 128
MAX_RESULTS = 50
_MAX_ID = 2**31 - 1  # parcel.id is a 32-bit integer on PostgreSQL


@dataclass(frozen=True)
class Query:
    """A lookup query, classified: its key, and the parcel id or SSCC it may also be."""

    text: str
    key: str
    parcel_id: int | None
    sscc: str | None


def classify(q: str) -> Query:
    """Read a support query: digits may be a parcel id, SSCC forms an SSCC, anything a key.

    Args:
        q: What was typed: spaces anywhere, any case, perhaps a leading '#'.

    Returns:
        The query trimmed, its lookup key, and the parcel id and SSCC it can stand for.

    Raises:
        InvalidInput: `invalid_query` when it is blank, longer than 128 characters after
            trimming, or holds a NUL character (nothing stored can contain one).
    """
    text = q.strip()
    if not text or len(text) > MAX_QUERY_LENGTH or "\x00" in text:
        raise InvalidInput(
            f"a lookup query is 1 to {MAX_QUERY_LENGTH} characters: an order number, tracking "
            "number, parcel id, customer reference or SSCC",
            code="invalid_query",
        )
    key = lookup_key(text)
    digits = key.isascii() and key.isdigit()
    parcel_id = int(key) if digits and len(key) <= 10 and 0 < int(key) <= _MAX_ID else None
    return Query(text=text, key=key, parcel_id=parcel_id, sscc=sscc_digits(key))


_ROWS: sa.Select[*tuple[Any, ...]] = (
    sa.select(
        col(Order.id).label("order_id"),
        col(Order.number),
        col(Order.customer_ref),
        col(Order.created_at),
        col(Parcel.id).label("parcel_id"),
        col(Parcel.status),
        col(Parcel.opened_at),
        col(Parcel.closed_at),
        col(Parcel.shipped_at),
        col(Parcel.tracking_number),
        col(Station.code).label("station"),
        col(User.name).label("packer"),
    )
    .select_from(Order)
    .outerjoin(Parcel, col(Parcel.order_id) == Order.id)
    .outerjoin(Station, col(Station.id) == Parcel.station_id)
    .outerjoin(User, col(User.id) == Parcel.packer_id)
    .where(col(Order.id).in_(sa.bindparam("order_ids", expanding=True)))
)


_ORDERS: sa.Select[*tuple[Any, ...]] = (
    sa.select(col(Order.id), col(Order.number_key))
    .where(
        sa.or_(
            col(Order.number_key) == sa.bindparam("key"), col(Order.ref_key) == sa.bindparam("key")
        )
    )
    .order_by(col(Order.id).desc())
    .limit(MAX_RESULTS)
)


def _matching_orders(session: Session, key: str) -> dict[int, Matched]:
    """Orders whose number or customer reference is `key`: the newest 50, by id."""
    rows = session.connection().execute(_ORDERS, {"key": key})
    return {
        int(order_id): "order" if number == key else "customer_ref" for order_id, number in rows
    }


def _matching_parcels(session: Session, query: Query) -> dict[int, tuple[int, Matched]]:
    """Parcels named by tracking number, SSCC or id: {parcel id: (order id, how)}."""
    conditions = [col(Parcel.tracking_key) == query.key]
    if query.sscc is not None:
        conditions.append(col(Parcel.sscc) == query.sscc)
    if query.parcel_id is not None:
        conditions.append(col(Parcel.id) == query.parcel_id)
    rows = session.connection().execute(
        sa.select(col(Parcel.id), col(Parcel.order_id), col(Parcel.tracking_key), col(Parcel.sscc))
        .where(sa.or_(*conditions))
        .limit(MAX_RESULTS)
    )
    found: dict[int, tuple[int, Matched]] = {}
    for parcel_id, order_id, tracking_key, sscc in rows:
        how: Matched = (
            "tracking_number"
            if tracking_key == query.key
            else "sscc"
            if query.sscc is not None and sscc == query.sscc
            else "parcel_id"
        )
        assert parcel_id is not None  # a primary key
        found[parcel_id] = (order_id, how)
    return found


def look_up(*, session: Session, q: str) -> LookupOut:
    """The parcels a support query names, newest first (at most 50).

    An order number or customer reference gives every parcel of the orders it names, voided
    ones included, and an order with no parcel yet as one result without a parcel; a
    tracking number, SSCC or parcel id gives that parcel. A parcel found two ways is listed
    once, under its order's number when that is what matched.

    Raises:
        InvalidInput: `invalid_query` (see `classify`).
    """
    query = classify(q)
    if not query.key:  # only '#' and spaces: nothing is stored under an empty key
        return LookupOut(q=query.text, results=[])
    orders = _matching_orders(session, query.key)
    parcels = _matching_parcels(session, query)
    order_ids = set(orders) | {order_id for order_id, _ in parcels.values()}
    if not order_ids:
        return LookupOut(q=query.text, results=[])
    results: list[tuple[datetime, int, LookupResult]] = []
    for row in session.connection().execute(_ROWS, {"order_ids": sorted(order_ids)}):
        how = orders.get(row.order_id)
        if how is None or (row.parcel_id in parcels and how == "customer_ref"):
            if row.parcel_id not in parcels:
                continue  # another parcel of an order found through one of its parcels
            how = parcels[row.parcel_id][1]
        result = LookupResult(
            parcel_id=row.parcel_id,
            order=row.number,
            customer_ref=row.customer_ref,
            status=row.status,
            station=row.station,
            packer=row.packer,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            shipped_at=row.shipped_at,
            tracking_number=row.tracking_number,
            matched=how,
        )
        results.append((row.opened_at or row.created_at, row.parcel_id or 0, result))
    results.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return LookupOut(q=query.text, results=[result for *_, result in results[:MAX_RESULTS]])
