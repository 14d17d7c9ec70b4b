"""Photos of parcels: recording what a photo showed, the evidence it gives, holds and retention.

The image work (qc.vision.photo) and the file writes (qc.photo_store) happen before and
outside the transaction that records the photo: a file is durable before the row that points
to it commits, so a committed photo is never missing its file, and a file whose row never
committed is an orphan that `qc photos sweep` removes once it is older than a grace period.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, func, or_, select

from qc import verification as v
from qc.audit import record_event
from qc.barcodes import ScannedCode
from qc.catalogue import resolve_code
from qc.enums import ParcelStatus
from qc.errors import Conflict, NotFound, QCError
from qc.identity import Principal
from qc.models import Barcode, EvidenceHold, Order, Parcel, Photo, User, utcnow
from qc.parcel_state import load, station_parcel_row
from qc.schemas import HoldOut, PhotoCodeOut, PhotoOut, QualityOut

if TYPE_CHECKING:  # the image libraries load only where images are handled
    from qc.vision.decode import Code
    from qc.vision.photo import PreparedPhoto


class Gone(QCError):
    status = 410
    code = "gone"


@dataclass(frozen=True)
class StoredPhoto:
    """An upload after the image work and the file writes: what the row will record."""

    upload_sha256: str
    sha256: str
    thumb_sha256: str
    size_bytes: int
    prepared: "PreparedPhoto"
    codes: Sequence["Code"]


def check_parcel(*, session: Session, parcel_id: int, station: Principal) -> None:
    """Refuse early (before any image work) a photo for a parcel the station may not add to."""
    station_parcel_row(session, parcel_id, station, ParcelStatus.PACKING)


def find_upload(*, session: Session, parcel_id: int, upload_sha256: str) -> Photo | None:
    """The photo already made from these exact bytes for this parcel: a station's retry."""
    return session.exec(
        select(Photo).where(Photo.parcel_id == parcel_id, Photo.upload_sha256 == upload_sha256)
    ).first()


def _outline(code: "Code", size: tuple[int, int]) -> list[list[int]]:
    """The code's corners as [x, y] points, kept inside the image: the decoders read the kept
    image itself (qc.photo_ingest), so they are already in its pixels, but a decoder may place
    a corner of a code at the edge a pixel or two beyond it."""
    width, height = size
    return [[min(max(x, 0), width - 1), min(max(y, 0), height - 1)] for x, y in code.corners]


def _classify(
    session: Session, parcel_id: int, codes: Sequence["Code"], size: tuple[int, int]
) -> tuple[list[PhotoCodeOut], list[str]]:
    """Each code against the catalogue and the order, with its outline in the image of `size`
    (width, height); and the order-foreign SKUs it shows."""
    parcel = session.get_one(Parcel, parcel_id)
    order_number = session.get_one(Order, parcel.order_id).number
    expected = load(session, parcel).products
    ids = [p.id for p in expected.values()]
    expected_codes = set(session.exec(select(Barcode.code).where(col(Barcode.product_id).in_(ids))))
    seen, foreign = [], []
    for code in codes:
        # A weak read the order expects counts: the order's own codes are the confirmation
        # the decoder could not give. A weak read of anything else is shown but not judged.
        confirmed = code.confirmed or (code.gtin is not None and code.gtin in expected_codes)
        scanned = ScannedCode(raw=code.text, text=code.text, symbology=None, gtin=code.gtin)
        found = resolve_code(session, scanned)
        sku = found[0].sku if found else None
        in_order = (sku in expected) if sku else None
        if sku and not in_order and confirmed and sku not in foreign:
            foreign.append(sku)
        seen.append(
            PhotoCodeOut(text=code.text, format=code.format, gtin=code.gtin, sku=sku,
                         expected=in_order, confirmed=confirmed,
                         order_slip=code.text.strip() == order_number,
                         corners=_outline(code, size))
        )  # fmt: skip
    return seen, foreign


def record_photo(
    *, session: Session, parcel_id: int, station: Principal, stored: StoredPhoto
) -> tuple[Photo, bool]:
    """Record a stored photo on the station's packing parcel; a retry gets the first record.

    Returns:
        The photo row and whether it was created now.

    Raises:
        NotFound, Forbidden, Conflict: no such parcel, another station's, or not packing.
    """
    station_parcel_row(session, parcel_id, station, ParcelStatus.PACKING)
    earlier = find_upload(session=session, parcel_id=parcel_id, upload_sha256=stored.upload_sha256)
    if earlier is not None:
        return earlier, False
    size = (stored.prepared.width, stored.prepared.height)
    codes, foreign = _classify(session, parcel_id, stored.codes, size)
    quality = stored.prepared.quality
    photo = Photo(
        parcel_id=parcel_id,
        station_id=station.id,
        upload_sha256=stored.upload_sha256,
        sha256=stored.sha256,
        thumb_sha256=stored.thumb_sha256,
        width=stored.prepared.width,
        height=stored.prepared.height,
        size_bytes=stored.size_bytes,
        sharpness=quality.sharpness,
        brightness=quality.brightness,
        codes=[c.model_dump() for c in codes],
        foreign_skus=foreign,
    )
    session.add(photo)
    session.flush()
    return photo, True


def photo_out(photo: Photo, urls: tuple[str, str] | None = None) -> PhotoOut:
    """The API's view of a photo; `urls` (image, thumbnail) for callers who may see it."""
    assert photo.id is not None
    warnings = [
        f"photo_mismatch: the photo shows {sku}, which is not in this order"
        for sku in photo.foreign_skus
    ]
    return PhotoOut(
        id=photo.id,
        parcel_id=photo.parcel_id,
        width=photo.width,
        height=photo.height,
        quality=QualityOut(
            ok=True, sharpness=photo.sharpness, brightness=photo.brightness, reasons=[]
        ),
        codes=[PhotoCodeOut(**c) for c in photo.codes],
        warnings=warnings,
        created_at=photo.created_at,
        purged=photo.purged_at is not None,
        url=urls[0] if urls and not photo.purged_at else None,
        thumb_url=urls[1] if urls and not photo.purged_at else None,
    )


def evidence(session: Session, parcel_id: int) -> v.PhotoEvidence:
    """What the parcel's photos prove at closing: the newest photo is the one that counts."""
    newest = session.exec(
        select(Photo).where(Photo.parcel_id == parcel_id).order_by(col(Photo.id).desc())
    ).first()
    if newest is None:
        return v.PhotoEvidence(taken=False)
    return v.PhotoEvidence(taken=True, foreign_skus=tuple(newest.foreign_skus))


def parcel_photos(session: Session, parcel_id: int) -> list[Photo]:
    return list(
        session.exec(select(Photo).where(Photo.parcel_id == parcel_id).order_by(col(Photo.id)))
    )


def photo_for_view(session: Session, photo_id: int) -> Photo:
    """A photo whose image can still be served.

    Raises:
        NotFound: no such photo.
        Gone: retention deleted its image.
    """
    photo = session.get(Photo, photo_id)
    if photo is None:
        raise NotFound(f"no photo {photo_id}", code="photo_not_found")
    if photo.purged_at is not None:
        raise Gone(
            f"photo {photo_id} was deleted on {photo.purged_at:%Y-%m-%d} after the retention "
            "period",
            code="photo_purged",
        )
    return photo


def active_hold(session: Session, parcel_id: int) -> tuple[EvidenceHold, str] | None:
    row = session.exec(
        select(EvidenceHold, User.name)
        .join(User, col(EvidenceHold.user_id) == User.id)
        .where(EvidenceHold.parcel_id == parcel_id, col(EvidenceHold.released_at).is_(None))
    ).first()
    return (row[0], row[1]) if row else None


def hold_out(session: Session, parcel_id: int) -> HoldOut:
    found = active_hold(session, parcel_id)
    if found is None:
        return HoldOut(parcel_id=parcel_id, held=False)
    hold, by = found
    return HoldOut(parcel_id=parcel_id, held=True, by=by, reason=hold.reason, since=hold.created_at)


def hold_evidence(
    *, session: Session, parcel_id: int, user: Principal, reason: str, ip: str | None
) -> tuple[HoldOut, bool]:
    """Keep a parcel's photos past retention (a dispute); holding a held parcel changes nothing.

    Returns:
        The hold and whether it was placed now.
    """
    session.get(Parcel, parcel_id, with_for_update=True) or _no_parcel(parcel_id)
    if active_hold(session, parcel_id) is None:
        session.add(EvidenceHold(parcel_id=parcel_id, user_id=user.id, reason=reason))
        record_event(session, actor=user.label, action="evidence.hold", object_type="parcel",
                     object_id=parcel_id, detail={"reason": reason}, ip=ip)  # fmt: skip
        session.flush()
        return hold_out(session, parcel_id), True
    return hold_out(session, parcel_id), False


def release_evidence(
    *, session: Session, parcel_id: int, user: Principal, ip: str | None
) -> HoldOut:
    """End a parcel's hold: its photos fall under retention again."""
    session.get(Parcel, parcel_id, with_for_update=True) or _no_parcel(parcel_id)
    found = active_hold(session, parcel_id)
    if found is None:
        raise Conflict(f"parcel {parcel_id} has no evidence hold", code="no_evidence_hold")
    hold = found[0]
    hold.released_at, hold.released_by = utcnow(), user.id
    session.add(hold)
    record_event(session, actor=user.label, action="evidence.release", object_type="parcel",
                 object_id=parcel_id, ip=ip)  # fmt: skip
    session.flush()
    return hold_out(session, parcel_id)


def _no_parcel(parcel_id: int) -> Any:
    raise NotFound(f"no parcel {parcel_id}", code="parcel_not_found")


def expired_photos(session: Session, *, before: datetime, limit: int = 500) -> list[Photo]:
    """Photos taken before `before`, not yet purged, of parcels under no active hold."""
    held = select(EvidenceHold.parcel_id).where(col(EvidenceHold.released_at).is_(None))
    return list(
        session.exec(
            select(Photo)
            .where(
                col(Photo.created_at) < before,
                col(Photo.purged_at).is_(None),
                col(Photo.parcel_id).not_in(held),
            )
            .order_by(col(Photo.id))
            .limit(limit)
        )
    )


def mark_purged(session: Session, photos: Iterable[Photo], *, actor: str) -> list[str]:
    """Mark photos purged (the caller commits, then deletes the files); the keys they held."""
    keys: list[str] = []
    now = utcnow()
    for photo in photos:
        photo.purged_at = now
        session.add(photo)
        keys += [photo.sha256, photo.thumb_sha256]
    if keys:
        record_event(session, actor=actor, action="photo.purge", object_type="photo",
                     object_id="retention", detail={"photos": len(keys) // 2})  # fmt: skip
    session.flush()
    return keys


def live_keys(session: Session, keys: list[str]) -> set[str]:
    """Which of `keys` a photo that is not purged still points to (image or thumbnail)."""
    if not keys:
        return set()
    rows = session.exec(
        select(Photo.sha256, Photo.thumb_sha256).where(
            col(Photo.purged_at).is_(None),
            or_(col(Photo.sha256).in_(keys), col(Photo.thumb_sha256).in_(keys)),
        )
    ).all()
    wanted = set(keys)
    return {key for row in rows for key in row if key in wanted}


def count_expired(session: Session, *, before: datetime) -> tuple[int, int]:
    """(photos retention would delete now, photos it keeps because of a hold)."""
    held = select(EvidenceHold.parcel_id).where(col(EvidenceHold.released_at).is_(None))
    old = select(func.count()).where(col(Photo.created_at) < before, col(Photo.purged_at).is_(None))
    total = session.exec(old).one()
    kept = session.exec(old.where(col(Photo.parcel_id).in_(held))).one()
    return total - kept, kept
