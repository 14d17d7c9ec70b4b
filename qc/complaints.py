"""Complaints: what a customer reported about a parcel that left, recorded, resolved and listed.

A complaint about a parcel that passed QC is a defect QC let through: it becomes escaped
defects on the parcel (qc.escaped), counted against the packing it is about. One about a
parcel a supervisor released points at that override instead and adds no defect: QC caught
the problem, the release let it go. Two flags ask for a second look: a repeat claimant, and a
kept photo that shows what the customer says was missing.
"""

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, func, or_, select

from qc.audit import record_event
from qc.catalogue import products_by_sku
from qc.complaint_schemas import (
    ComplaintFilters,
    ComplaintIn,
    ComplaintList,
    ComplaintOut,
    ComplaintResolve,
    EscapedDefectOut,
)
from qc.enums import DefectKind
from qc.errors import Conflict, InvalidInput, NotFound
from qc.escaped import Escaped, named_parcel, record_escaped
from qc.identity import Principal
from qc.lookup_keys import lookup_key
from qc.models import (
    Complaint,
    Defect,
    Order,
    Override,
    Parcel,
    ParcelLine,
    Photo,
    Product,
    User,
    utcnow,
)
from qc.names import names_of
from qc.orders import clean_order_code
from qc.webhooks import emit

KIND_DEFECTS: dict[str, DefectKind | None] = {
    "missing": DefectKind.MISSING_ITEM,
    "wrong": DefectKind.WRONG_ITEM,
    "damaged": DefectKind.DAMAGED_ITEM,
    "extra": DefectKind.EXTRA_ITEM,
    "other": None,
}


@dataclass(frozen=True)
class ClaimPolicy:
    """`claims` complaints by one customer reference within `days` make a repeat claimant."""

    claims: int = 3
    days: int = 90


# -- pure rules ------------------------------------------------------------------------------


def is_repeat_claim(earlier: Iterable[datetime], at: datetime, *, policy: ClaimPolicy) -> bool:
    """Whether a complaint made `at` brings its customer to `policy.claims` complaints within
    `policy.days`, counting itself and the `earlier` complaints' times inside the window."""
    since = at - timedelta(days=policy.days)
    return 1 + sum(1 for t in earlier if since <= t <= at) >= policy.claims


def confirmed_skus(codes: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The SKUs a photo's codes prove: confirmed reads of a catalogue product, not the slip."""
    # Codes kept before reads were marked confirmed count as confirmed, as the API shows them.
    return frozenset(
        c["sku"]
        for c in codes
        if c.get("sku") and c.get("confirmed", True) and not c.get("order_slip")
    )


def shows_evidence(
    *, kind: str, sku: str | None, parcel_skus: Collection[str], photos: Iterable[frozenset[str]]
) -> bool:
    """Whether kept photos (each given as its `confirmed_skus`) contradict the complaint.

    For an item said missing or wrong, a photo shows that SKU; for "something is missing"
    without a SKU, the photos together show every SKU the parcel was to hold. Other kinds
    (damage, an extra item) are not something a photo of the open parcel settles.
    """
    seen = list(photos)
    if kind not in ("missing", "wrong") or not seen:
        return False
    if sku is not None:
        return any(sku in skus for skus in seen)
    return kind == "missing" and bool(parcel_skus) and set(parcel_skus) <= set().union(*seen)


# -- reading ---------------------------------------------------------------------------------


# Copied as stored; the rest of a ComplaintOut is read from other tables.
_AS_STORED = set(ComplaintOut.model_fields) - {
    "order", "sku", "qty", "escaped_defects", "created_by", "resolved_by"
}  # fmt: skip


def complaint_views(session: Session, complaints: Sequence[Complaint]) -> list[ComplaintOut]:
    """The API's view of complaints, read with a few queries however many there are."""
    if not complaints:
        return []
    escaped = session.exec(
        select(Defect.complaint_id, Defect.kind, Defect.product_id, Defect.qty)
        .where(col(Defect.complaint_id).in_({c.id for c in complaints}))
        .order_by(col(Defect.id))
    ).all()
    products = {c.product_id for c in complaints} | {d[2] for d in escaped}
    skus = names_of(session, Product.sku, {p for p in products if p})
    users = {u for c in complaints for u in (c.created_by, c.resolved_by) if u}
    names = names_of(session, User.name, users)
    orders = dict(
        session.exec(
            select(Parcel.id, Order.number)
            .join(Order, col(Parcel.order_id) == Order.id)
            .where(col(Parcel.id).in_({c.parcel_id for c in complaints}))
        ).all()
    )
    found: dict[int | None, list[EscapedDefectOut]] = {}
    for complaint_id, kind, product_id, qty in escaped:
        found.setdefault(complaint_id, []).append(
            EscapedDefectOut(kind=kind, sku=skus.get(product_id or 0), qty=qty)
        )
    return [
        ComplaintOut(
            **c.model_dump(include=_AS_STORED),
            order=orders[c.parcel_id],
            sku=skus.get(c.product_id or 0),
            qty=c.qty or 1,
            escaped_defects=found.get(c.id, []),
            created_by=names[c.created_by],
            resolved_by=names.get(c.resolved_by or 0),
        )
        for c in complaints
    ]


def _complaint(session: Session, complaint_id: int, *, lock: bool = False) -> Complaint:
    complaint = session.get(Complaint, complaint_id, with_for_update=lock)
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id}", code="complaint_not_found")
    return complaint


def get_complaint(*, session: Session, complaint_id: int) -> ComplaintOut:
    """One complaint.

    Raises:
        NotFound: no such complaint (`complaint_not_found`).
    """
    return complaint_views(session, [_complaint(session, complaint_id)])[0]


def parcel_complaints(session: Session, parcel_id: int) -> list[ComplaintOut]:
    """A parcel's complaints, oldest first: the order its story is told in."""
    rows = session.exec(
        select(Complaint).where(Complaint.parcel_id == parcel_id).order_by(col(Complaint.id))
    ).all()
    return complaint_views(session, rows)


def list_complaints(
    *, session: Session, filters: ComplaintFilters, zone: ZoneInfo
) -> ComplaintList:
    """Complaints matching `filters`, newest first, one page of them and how many match.

    Raises:
        InvalidInput: `end` is before `start` (`invalid_period`).
    """
    f = filters
    if f.start and f.end and f.end < f.start:
        raise InvalidInput("the period is not valid: `to` is before `from`", code="invalid_period")
    where: list[Any] = []
    for value, column in ((f.status, Complaint.status), (f.kind, Complaint.kind),
                          (f.parcel_id, Complaint.parcel_id),
                          (f.repeat, Complaint.repeat_claimant),
                          (f.evidence, Complaint.evidence_available)):  # fmt: skip
        if value is not None:
            where.append(col(column) == value)
    if f.start:
        where.append(col(Complaint.created_at) >= _local_midnight(f.start, zone))
    if f.end:
        where.append(col(Complaint.created_at) < _local_midnight(f.end + timedelta(days=1), zone))
    # Support's spellings ("cust-7 " for "CUST-7", "# 1001") match as the lookup matches them.
    if f.customer_ref is not None:
        refs = select(Order.customer_ref).where(Order.ref_key == lookup_key(f.customer_ref))
        where.append(or_(Complaint.customer_ref == f.customer_ref,
                         col(Complaint.customer_ref).in_(refs)))  # fmt: skip
    if f.order is not None:
        orders = select(Parcel.id).join(Order, col(Parcel.order_id) == Order.id)
        orders = orders.where(or_(Order.number == clean_order_code(f.order),
                                  Order.number_key == lookup_key(f.order)))  # fmt: skip
        where.append(col(Complaint.parcel_id).in_(orders))
    total = session.exec(select(func.count(col(Complaint.id))).where(*where)).one()
    rows = session.exec(
        select(Complaint)
        .where(*where)
        .order_by(col(Complaint.created_at).desc(), col(Complaint.id).desc())
        .offset(f.offset)
        .limit(f.limit)
    ).all()
    return ComplaintList(total=total, rows=complaint_views(session, rows))


def _local_midnight(day: Any, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


# -- writing ---------------------------------------------------------------------------------


def _lock_claims(session: Session, customer_ref: str | None) -> None:
    """Take a lock on the customer's complaints, held to the end of the transaction, before
    the complaint's time is read: two complaints recorded at the same instant then count each
    other for the repeat flag (the later waits for the earlier to commit, and is later). On
    PostgreSQL an advisory lock; SQLite's writers queue anyway."""
    if customer_ref is None or session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"complaints of {customer_ref}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.connection().execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _repeat(session: Session, customer_ref: str | None, at: datetime, policy: ClaimPolicy) -> bool:
    if customer_ref is None:
        return False
    earlier = session.exec(
        select(Complaint.created_at).where(
            Complaint.customer_ref == customer_ref,
            col(Complaint.created_at) >= at - timedelta(days=policy.days),
        )
    ).all()
    return is_repeat_claim(earlier, at, policy=policy)


def _evidence(session: Session, parcel_id: int, kind: str, sku: str | None) -> bool:
    codes = session.exec(
        select(Photo.codes).where(Photo.parcel_id == parcel_id, col(Photo.purged_at).is_(None))
    ).all()
    # What the parcel was to hold: lines not declared short in full (those were never packed).
    lines = session.exec(
        select(Product.sku)
        .join(ParcelLine, col(ParcelLine.product_id) == Product.id)
        .where(ParcelLine.parcel_id == parcel_id, col(ParcelLine.expected) > ParcelLine.short)
    ).all()
    photos = [confirmed_skus(c) for c in codes]
    return shows_evidence(kind=kind, sku=sku, parcel_skus=lines, photos=photos)


def create_complaint(
    *,
    session: Session,
    data: ComplaintIn,
    user: Principal,
    policy: ClaimPolicy,
    zone: ZoneInfo,
    ip: str | None,
) -> ComplaintOut:
    """Record a complaint on the parcel it names, with its escaped defects or its override.

    Raises:
        InvalidInput: no identifier given (`no_parcel_given`).
        NotFound: unknown order, parcel or SKU.
        Conflict: the identifiers name different parcels, or the parcel never left the bench
            (`parcel_not_closed`, `parcel_held`, `parcel_voided`).
    """
    parcel = named_parcel(session=session, order=data.order, tracking_number=data.tracking_number,
                          parcel_id=data.parcel_id)  # fmt: skip
    assert parcel.id is not None
    product = None
    if data.sku is not None:
        product = products_by_sku(session, {data.sku}).get(data.sku)
        if product is None:
            raise NotFound(f"no product with SKU {data.sku}", code="product_not_found")
    order = session.get_one(Order, parcel.order_id)
    override_id = session.exec(
        select(Override.id).where(Override.parcel_id == parcel.id).order_by(col(Override.id).desc())
    ).first()
    _lock_claims(session, order.customer_ref)
    now = utcnow()
    complaint = Complaint(
        parcel_id=parcel.id,
        customer_ref=order.customer_ref,
        kind=data.kind,
        product_id=product.id if product else None,
        qty=data.qty,
        note=data.note,
        override_id=override_id,
        repeat_claimant=_repeat(session, order.customer_ref, now, policy),
        evidence_available=_evidence(session, parcel.id, data.kind, data.sku),
        created_by=user.id,
        created_at=now,
    )
    session.add(complaint)
    session.flush()
    assert complaint.id is not None
    defect_kind = KIND_DEFECTS[data.kind]
    if override_id is None and defect_kind is not None:
        reason = f"complaint {complaint.id}" + (f": {data.note}" if data.note else "")
        record_escaped(session=session, parcel_id=parcel.id, zone=zone, reason=reason[:500],
                       defects=[Escaped(defect_kind, data.sku, data.qty)],
                       complaint_id=complaint.id)  # fmt: skip
    out = complaint_views(session, [complaint])[0]
    record_event(session, actor=user.label, action="complaint.create", object_type="complaint",
                 object_id=complaint.id, ip=ip,
                 detail={"parcel_id": parcel.id, "kind": data.kind, "sku": data.sku,
                         "qty": data.qty, "override_id": override_id,
                         "escaped_defects": len(out.escaped_defects)})  # fmt: skip
    emit(session, "complaint.created", out.model_dump(mode="json"))
    session.flush()
    return out


def resolve_complaint(
    *,
    session: Session,
    complaint_id: int,
    data: ComplaintResolve,
    user: Principal,
    ip: str | None,
) -> ComplaintOut:
    """Close a complaint with what was done (reship, refund, nothing) and a note.

    Raises:
        NotFound: no such complaint (`complaint_not_found`).
        Conflict: it was resolved already (`complaint_resolved`).
    """
    complaint = _complaint(session, complaint_id, lock=True)
    if complaint.status == "resolved":
        raise Conflict(
            f"complaint {complaint_id} was resolved already ({complaint.resolution})",
            code="complaint_resolved",
        )
    complaint.status, complaint.resolution = "resolved", data.resolution
    complaint.resolution_note, complaint.resolved_by = data.note, user.id
    complaint.resolved_at = utcnow()
    session.add(complaint)
    session.flush()
    out = complaint_views(session, [complaint])[0]
    record_event(session, actor=user.label, action="complaint.resolve", object_type="complaint",
                 object_id=complaint_id, ip=ip,
                 detail={"resolution": data.resolution, "note": data.note})  # fmt: skip
    emit(session, "complaint.resolved", out.model_dump(mode="json"))
    session.flush()
    return out
