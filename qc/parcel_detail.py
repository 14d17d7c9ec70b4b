"""The whole story of one parcel, for support and supervisors: lines, scans, defects, photos,
timeline."""

from collections.abc import Callable

from sqlmodel import Session, col, select

from qc.models import Defect, Order, Override, Parcel, Product, Scan, User
from qc.parcel_state import parcel_out
from qc.photos import hold_out, parcel_photos, photo_out
from qc.schemas import DefectDetailOut, OverrideOut, ParcelDetail, ScanOut, TimelineEntry


def _skus(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(Product.id, Product.sku).where(col(Product.id).in_(ids))).all()
    return {pid: sku for pid, sku in rows if pid is not None}


def parcel_detail(
    session: Session,
    parcel: Parcel,
    *,
    photo_urls: Callable[[int], tuple[str, str]] | None = None,
) -> ParcelDetail:
    """Everything about the parcel; `photo_urls` gives a photo's (image, thumbnail) URLs to
    callers who may see photos, and photos carry no URL without it."""
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
    sku = _skus(session, ids)
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
    if parcel.closed_at:
        verdict = "held" if parcel.status == "voided" else parcel.status
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
    timeline.sort(key=lambda t: t.at)
    return ParcelDetail(
        **parcel_out(session, parcel).model_dump(),
        customer_ref=order.customer_ref if order else None,
        scans=scan_views,
        defects=defect_views,
        overrides=override_views,
        photos=photos,
        evidence_hold=hold_out(session, parcel.id),
        timeline=timeline,
    )
