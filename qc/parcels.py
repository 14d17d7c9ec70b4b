"""A parcel's life: opened by a slip scan, packed, closed with a verdict, released, shipped."""

from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from qc import verification as v
from qc.audit import record_event
from qc.catalogue import product_ref, products_by_sku
from qc.enums import DefectKind, ParcelStatus
from qc.errors import Conflict
from qc.identity import Principal, packer_by_badge
from qc.lookup_keys import lookup_key
from qc.models import Order, Override, Parcel, ParcelLine, Station, utcnow
from qc.orders import expected_units, find_order, live_parcel
from qc.parcel_events import emit_held, emit_shipped
from qc.parcel_state import (
    ParcelRow,
    add_defect,
    line_views,
    load,
    lock_parcel,
    parcel_out,
    save,
    station_parcel,
    station_parcel_row,
)
from qc.photos import evidence as photo_evidence
from qc.rollups import counted
from qc.schemas import CloseOut, DefectOut, ParcelOut, WeightOut

PACKING = ParcelStatus.PACKING
UTC_ZONE = ZoneInfo("UTC")


def _busy(session: Session, parcel: Parcel, number: str) -> Conflict:
    holder = session.get(Station, parcel.station_id)
    where = holder.code if holder else "another station"
    if parcel.status == PACKING:
        return Conflict(
            f"order {number} is being packed at station {where} (parcel {parcel.id})",
            code="order_in_progress",
        )
    if parcel.status == ParcelStatus.HELD:
        return Conflict(
            f"order {number} is held at station {where} (parcel {parcel.id}): a supervisor must "
            "release or void it",
            code="order_held",
        )
    return Conflict(
        f"order {number} was already packed (parcel {parcel.id})", code="order_already_packed"
    )


# Insert-or-yield on the one-live-parcel-per-order column: a bench that loses the race to open
# an order writes nothing (no savepoint to roll back) and reads the winner instead.
_OPEN = {
    "postgresql": postgresql.insert(Parcel)
    .on_conflict_do_nothing(index_elements=["live_order_id"])
    .returning(col(Parcel.id)),
    "sqlite": sqlite.insert(Parcel)
    .on_conflict_do_nothing(index_elements=["live_order_id"])
    .returning(col(Parcel.id)),
}
_ADD_LINES = insert(ParcelLine)


def _resume_or_refuse(session: Session, station: Principal, order: Order) -> ParcelOut:
    """The order's live parcel, when it is this station's and packing; else why it is busy."""
    assert order.id is not None
    current = live_parcel(session, order.id)
    assert current is not None
    if current.status == PACKING and current.station_id == station.id:
        return parcel_out(session, current)
    raise _busy(session, current, order.number)


def open_parcel(
    *, session: Session, station: Principal, order_code: str, packer_badge: str
) -> tuple[ParcelOut, bool]:
    """Open a parcel for the order on the slip; the same station scanning it again resumes it.

    Returns:
        The parcel and whether it was created (False when resumed).

    Raises:
        NotFound: unknown order or badge.
        Conflict: the order has a live parcel elsewhere, is held, or was packed.
    """
    order = find_order(session, order_code)
    packer = packer_by_badge(session, packer_badge)
    assert order.id is not None and packer.id is not None
    if live_parcel(session, order.id, lock=True) is not None:
        return _resume_or_refuse(session, station, order), False
    connection, now = session.connection(), utcnow()
    parcel_id = connection.execute(
        _OPEN[connection.dialect.name],
        {"order_id": order.id, "live_order_id": order.id, "station_id": station.id,
         "packer_id": packer.id, "status": PACKING, "opened_at": now},
    ).scalar()  # fmt: skip
    if parcel_id is None:  # another station opened the same order a moment ago
        return _resume_or_refuse(session, station, order), False
    connection.execute(
        _ADD_LINES,
        [{"parcel_id": parcel_id, "product_id": u.product_id, "expected": u.expected,
          "kit_qty": u.kit_qty, "accepted": 0, "damaged": 0, "short": 0}
         for u in expected_units(session, order)],
    )  # fmt: skip
    parcel = ParcelRow(parcel_id, station.id, packer.id, PACKING, None, None)
    loaded = load(session, parcel)
    out = ParcelOut(
        id=parcel_id,
        order=order.number,
        status=PACKING,
        station=station.name,
        packer=packer.name,
        remaining=loaded.state.remaining,
        lines=line_views(loaded),
        awaiting_serial=None,
        weight_g=None,
        expected_weight_g=None,
        tracking_number=None,
        opened_at=now,
        closed_at=None,
        shipped_at=None,
    )
    return out, True


def flag_damaged(
    *, session: Session, parcel_id: int, station: Principal, sku: str, qty: int
) -> ParcelOut:
    """Take damaged units out of the count; each needs a replacement scan."""
    parcel = station_parcel(session, parcel_id, station, PACKING)
    loaded = load(session, parcel)
    loaded = save(session, parcel, loaded, v.flag_damaged(loaded.state, sku=sku, qty=qty))
    add_defect(session, parcel, DefectKind.DAMAGED_ITEM, product=loaded.products[sku], qty=qty)
    session.flush()
    return parcel_out(session, parcel, loaded)


def declare_short(
    *, session: Session, parcel_id: int, station: Principal, sku: str, qty: int, reason: str
) -> ParcelOut:
    """Ship without `qty` units of `sku`, for a stated reason."""
    parcel = station_parcel(session, parcel_id, station, PACKING)
    loaded = load(session, parcel)
    state = v.declare_short(loaded.state, sku=sku, qty=qty, reason=reason)
    loaded = save(session, parcel, loaded, state)
    add_defect(
        session, parcel, DefectKind.SHORT_SHIP, product=loaded.products[sku], qty=qty, reason=reason
    )
    session.flush()
    return parcel_out(session, parcel, loaded)


def record_weight(
    *, session: Session, parcel_id: int, station: Principal, grams: int, policy: v.WeightPolicy
) -> WeightOut:
    """Keep the scale's reading (the latest counts) and say whether it matches so far."""
    parcel = station_parcel(session, parcel_id, station, PACKING)
    parcel.weight_g = grams
    state = load(session, parcel).state
    expected = v.expected_weight(state, policy)
    parcel.expected_weight_g = expected
    session.add(parcel)
    session.flush()
    return WeightOut(
        weight_g=grams,
        expected_weight_g=expected,
        within_tolerance=v.weight_within_tolerance(state, policy),
    )


_CLOSE = (
    update(Parcel)
    .where(col(Parcel.id) == bindparam("parcel_id"))
    .values(
        status=bindparam("new_status"),
        closed_at=bindparam("now"),
        expected_weight_g=bindparam("expected"),
        pending_serial_sku=None,
    )
)


def close_parcel(
    *,
    session: Session,
    parcel_id: int,
    station: Principal,
    policy: v.WeightPolicy,
    photo_required: bool = False,
    zone: ZoneInfo = UTC_ZONE,
) -> CloseOut:
    """Apply the verification rule: the parcel passes, or is held with the defects found.

    Raises:
        Conflict: policy requires a photo and the parcel has none (`photo_required`).
    """
    parcel = station_parcel_row(session, parcel_id, station, PACKING)
    with counted(session, parcel_id, zone):
        verdict = _close(session, parcel, policy, photo_required)
    if verdict.status == ParcelStatus.HELD:
        emit_held(session, parcel_id=parcel_id, defects=verdict.defects)
    return verdict


def _close(
    session: Session, parcel: ParcelRow, policy: v.WeightPolicy, photo_required: bool
) -> CloseOut:
    parcel_id = parcel.id
    loaded = load(session, parcel)
    photo = photo_evidence(session, parcel_id)
    verdict = v.close(loaded.state, policy, photo, photo_required=photo_required)
    foreign = products_by_sku(session, set(photo.foreign_skus))
    for finding in verdict.findings:
        sku = finding.sku or ""
        product = loaded.products.get(sku) or (
            product_ref(foreign[sku]) if sku in foreign else None
        )
        add_defect(session, parcel, finding.kind, product=product, qty=finding.qty)
    session.connection().execute(
        _CLOSE,
        {"parcel_id": parcel_id, "new_status": verdict.status, "now": utcnow(),
         "expected": v.expected_weight(loaded.state, policy)},
    )  # fmt: skip
    return CloseOut(
        id=parcel_id,
        status=verdict.status,
        defects=[DefectOut(kind=f.kind, sku=f.sku, qty=f.qty) for f in verdict.findings],
    )


def _supervised(
    session: Session, parcel: Parcel, user: Principal, action: str, reason: str, ip: str | None
) -> ParcelOut:
    """Finish a supervisor's action: its reason goes to the audit log with the change."""
    assert parcel.id is not None
    record_event(
        session,
        actor=user.label,
        action=action,
        object_type="parcel",
        object_id=parcel.id,
        detail={"reason": reason},
        ip=ip,
    )
    session.flush()
    return parcel_out(session, parcel)


def override_hold(
    *, session: Session, parcel_id: int, user: Principal, reason: str, ip: str | None
) -> ParcelOut:
    """A supervisor releases a held parcel; the reason is kept in the audit log."""
    parcel = lock_parcel(session, parcel_id)
    if parcel.status != ParcelStatus.HELD:
        raise Conflict(f"parcel {parcel_id} is {parcel.status}, not held", code="parcel_not_held")
    parcel.status = ParcelStatus.PASSED
    session.add(parcel)
    session.add(Override(parcel_id=parcel_id, user_id=user.id, reason=reason))
    return _supervised(session, parcel, user, "parcel.override", reason, ip)


def void_parcel(
    *, session: Session, parcel_id: int, user: Principal, reason: str, ip: str | None
) -> ParcelOut:
    """Abandon a parcel still packing or held, so that its order can be packed again."""
    parcel = lock_parcel(session, parcel_id)
    if parcel.status not in (PACKING, ParcelStatus.HELD):
        raise Conflict(
            f"parcel {parcel_id} is {parcel.status} and cannot be voided",
            code="parcel_not_voidable",
        )
    # closed_at stays as it was: a held parcel that is voided was closed, and counts as such.
    parcel.status, parcel.live_order_id, parcel.voided_at = ParcelStatus.VOIDED, None, utcnow()
    session.add(parcel)
    return _supervised(session, parcel, user, "parcel.void", reason, ip)


def ship_parcel(
    *,
    session: Session,
    parcel_id: int,
    station: Principal,
    tracking_number: str,
    zone: ZoneInfo = UTC_ZONE,
    sscc: str | None = None,
) -> ParcelOut:
    """Hand a passed parcel to the carrier under its tracking number (and label's SSCC, 18
    digits with a valid check digit: qc.schemas.ShipIn checks it)."""
    parcel = station_parcel(session, parcel_id, station, ParcelStatus.PASSED)
    other = session.exec(
        select(Parcel.id).where(Parcel.tracking_number == tracking_number, Parcel.id != parcel_id)
    ).first()
    if other is not None:
        raise Conflict(
            f"tracking number {tracking_number} is on parcel {other}", code="tracking_number_taken"
        )
    with counted(session, parcel_id, zone):
        parcel.status, parcel.tracking_number, parcel.shipped_at = (
            ParcelStatus.SHIPPED,
            tracking_number,
            utcnow(),
        )
        parcel.tracking_key = lookup_key(tracking_number)  # what support's lookup compares
        if sscc is not None:
            parcel.sscc = sscc
        session.add(parcel)
    emit_shipped(session, parcel=parcel)
    return parcel_out(session, parcel)
