"""The whole story of one parcel, for support and supervisors: lines, scans, defects, photos,
weights, shipment, complaints, and all of it as one timeline."""

from collections.abc import Callable

from sqlmodel import Session, col, select

from qc.complaint_schemas import ComplaintOut
from qc.complaints import parcel_complaints
from qc.models import Defect, Order, Override, Parcel, Product, Scan, User
from qc.names import names_of
from qc.parcel_state import parcel_out
from qc.photos import hold_out, parcel_photos, photo_out
from qc.schemas import (
    DefectDetailOut,
    OverrideOut,
    ParcelDetail,
    ScanOut,
    ShipmentOut,
    TimelineEntry,
)


def parcel_detail(
    session: Session,
    parcel: Parcel,
    *,
    photo_urls: Callable[[int], tuple[str, str]] | None = None,
    with_complaints: bool = True,
) -> ParcelDetail:
    """Everything about the parcel; `photo_urls` gives a photo's (image, thumbnail) URLs to
    callers who may see photos, and photos carry no URL without it. `with_complaints` False
    leaves out what customers said (a bench reading its own parcel has no need of it)."""
    assert parcel.id is not None
    scans = session.exec(
        select(Scan).where(Scan.parcel_id == parcel.id).order_by(col(Scan.id))
    ).all()
    defects = session.exec(
        select(Defect).where(Defect.parcel_id == parcel.id).order_by(col(Defect.id))
    ).all()
    overrides = session.exec(
        select(Override, User.name)
        .join(User, col(Override.user_id) == User.id)
        .where(Override.parcel_id == parcel.id)
        .order_by(col(Override.id))
    ).all()
    ids = {s.product_id for s in scans if s.product_id is not None}
    ids |= {d.product_id for d in defects if d.product_id is not None}
    sku = names_of(session, Product.sku, ids)
    order = session.get(Order, parcel.order_id)
    scan_views = [
        ScanOut(**s.model_dump(exclude={"product_id"}), sku=sku.get(s.product_id or 0))
        for s in scans
    ]
    defect_views = [
        DefectDetailOut(**d.model_dump(exclude={"product_id"}), sku=sku.get(d.product_id or 0))
        for d in defects
    ]
    override_views = [
        OverrideOut(by=name, reason=o.reason, at=o.created_at) for o, name in overrides
    ]
    timeline = [TimelineEntry(at=parcel.opened_at, event="opened", detail="parcel opened")]
    timeline += [
        TimelineEntry(at=s.received_at, event="scan", detail=f"{s.code} → {s.result}")
        for s in scan_views
    ]
    timeline += [
        TimelineEntry(
            at=d.created_at, event="defect", detail=f"{d.kind} {d.sku or ''} ×{d.qty}".strip()
        )
        for d in defect_views
    ]
    timeline += [
        TimelineEntry(at=o.at, event="override", detail=f"{o.by}: {o.reason}")
        for o in override_views
    ]
    if parcel.weight_g is not None:
        # The reading is not timed (the latest replaces the others): it is the one the parcel
        # closed with, so it goes just before the closing, or last while still packing.
        weighed_at = parcel.closed_at or max(t.at for t in timeline)
        timeline.append(TimelineEntry(at=weighed_at, event="weighed", detail=_weight(parcel)))
    if parcel.closed_at:
        # The verdict at closing: a voided parcel had been held, a shipped one had passed.
        verdict = {"voided": "held", "shipped": "passed"}.get(parcel.status, parcel.status)
        timeline.append(TimelineEntry(at=parcel.closed_at, event="closed", detail=verdict))
    if parcel.voided_at:
        timeline.append(TimelineEntry(at=parcel.voided_at, event="voided", detail="voided"))
    if parcel.shipped_at:
        timeline.append(
            TimelineEntry(
                at=parcel.shipped_at, event="shipped", detail=parcel.tracking_number or ""
            )
        )
    photos = [
        photo_out(p, photo_urls(p.id) if photo_urls and p.id else None)
        for p in parcel_photos(session, parcel.id)
    ]
    timeline += [
        TimelineEntry(
            at=p.created_at,
            event="photo",
            detail="; ".join([f"photo {p.id} taken", *p.warnings]),
        )
        for p in photos
    ]
    complaints = parcel_complaints(session, parcel.id) if with_complaints else []
    timeline += _complaint_entries(complaints)
    timeline.sort(key=lambda t: t.at)
    return ParcelDetail(
        **parcel_out(session, parcel).model_dump(),
        customer_ref=order.customer_ref if order else None,
        scans=scan_views,
        defects=defect_views,
        overrides=override_views,
        photos=photos,
        evidence_hold=hold_out(session, parcel.id),
        shipment=_shipment(parcel),
        complaints=complaints,
        timeline=timeline,
    )


def _shipment(parcel: Parcel) -> ShipmentOut | None:
    if parcel.shipped_at is None:
        return None
    return ShipmentOut(
        tracking_number=parcel.tracking_number, sscc=parcel.sscc, shipped_at=parcel.shipped_at
    )


def _weight(parcel: Parcel) -> str:
    expected = parcel.expected_weight_g
    return f"{parcel.weight_g} g" + (f" (expected {expected} g)" if expected is not None else "")


def _complaint_entries(complaints: list[ComplaintOut]) -> list[TimelineEntry]:
    entries = []
    for c in complaints:
        about = " ".join(x for x in (c.kind, c.sku, f"×{c.qty}") if x)
        entries.append(
            TimelineEntry(
                at=c.created_at,
                event="complaint",
                detail=f"complaint {c.id}: {about}, by {c.created_by}",
            )
        )
        if c.resolved_at is not None:
            note = f": {c.resolution_note}" if c.resolution_note else ""
            entries.append(
                TimelineEntry(
                    at=c.resolved_at,
                    event="complaint_resolved",
                    detail=f"complaint {c.id} resolved ({c.resolution}) by {c.resolved_by}{note}",
                )
            )
    return entries
