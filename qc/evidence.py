"""A parcel's evidence bundle: one ZIP that answers a marketplace dispute or a carrier claim.

The archive holds `photos/photo-<id>.jpg` for every photo retention kept (the full-size image,
byte for byte as stored), `parcel.json` (the parcel's whole record: order, station, packer,
verdict, times, weights, lines, every scan with its answer, defects, overrides, complaints,
photos) and last `manifest.json`, the SHA-256 and size of every other file, so a recipient can
check that nothing was changed after the bundle left. Files are in a fixed order and carry
the generation time, so the same record gives the same archive.

The record is read in one transaction, the photos are read from the store after it (a slow
store holds no database connection), and the download is audited in a transaction of its own
once the bundle exists: a download that failed is not logged as given.
"""

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from pydantic import TypeAdapter
from sqlmodel import Session, SQLModel, col, select

from qc.audit import record_event
from qc.enums import ParcelStatus
from qc.models import Complaint, Defect, Order, Override, Parcel, Photo, Product, Scan, User
from qc.names import names_of
from qc.parcel_state import find_parcel, parcel_out
from qc.photo_store import PhotoMissing, PhotoStore
from qc.photos import hold_out

PARCEL_FILE = "parcel.json"
MANIFEST_FILE = "manifest.json"


def photo_path(photo_id: int) -> str:
    """Where a photo's image goes in the archive."""
    return f"photos/photo-{photo_id}.jpg"


@dataclass(frozen=True)
class Bundle:
    """A built archive: its bytes, their SHA-256, and how many images it holds."""

    data: bytes
    sha256: str
    images: int


_TIME: TypeAdapter[datetime | date | None] = TypeAdapter(datetime | date | None)


def _iso(moment: datetime | date | None) -> str | None:
    """A time as pydantic writes it (UTC as `Z`), like the rows dumped beside it."""
    return cast(str | None, _TIME.dump_python(moment, mode="json"))


def _row(row: SQLModel, drop: set[str], **names: str | None) -> dict[str, Any]:
    """A row as JSON values, id first, without the ids `names` replaces with names."""
    dump = row.model_dump(mode="json", exclude=drop)
    return {"id": dump.pop("id"), **dump, **names}


def _verdict(parcel: Parcel, overridden: bool) -> str | None:
    """What the bench decided at closing, and whether a supervisor released it afterwards."""
    if parcel.closed_at is None:
        return None
    if overridden:
        return "released_by_override"
    if parcel.status in (ParcelStatus.HELD, ParcelStatus.VOIDED):
        return "held"
    return "passed"


def _photo(photo: Photo) -> dict[str, Any]:
    assert photo.id is not None
    kept = photo.purged_at is None
    return {
        "id": photo.id,
        "file": photo_path(photo.id) if kept else None,
        "purged": not kept,
        "purged_at": _iso(photo.purged_at),
        "taken_at": _iso(photo.created_at),
        "sha256": photo.sha256,
        "bytes": photo.size_bytes,
        "width": photo.width,
        "height": photo.height,
        "quality": {"sharpness": photo.sharpness, "brightness": photo.brightness},
        "codes": photo.codes,
        "foreign_skus": photo.foreign_skus,
    }


def parcel_record(*, session: Session, parcel_id: int) -> dict[str, Any]:
    """The parcel's whole record as plain JSON values (times in ISO 8601, UTC).

    Photos carry `file`, their path in the archive, or None once retention purged them.

    Raises:
        NotFound: no such parcel.
    """
    parcel = find_parcel(session, parcel_id)
    summary = parcel_out(session, parcel)
    scan_rows = session.exec(
        select(Scan).where(Scan.parcel_id == parcel_id).order_by(col(Scan.id))
    ).all()
    defects = session.exec(
        select(Defect).where(Defect.parcel_id == parcel_id).order_by(col(Defect.id))
    ).all()
    overrides = session.exec(
        select(Override).where(Override.parcel_id == parcel_id).order_by(col(Override.id))
    ).all()
    complaints = session.exec(
        select(Complaint).where(Complaint.parcel_id == parcel_id).order_by(col(Complaint.id))
    ).all()
    photos = session.exec(
        select(Photo).where(Photo.parcel_id == parcel_id).order_by(col(Photo.id))
    ).all()
    sku = names_of(
        session,
        Product.sku,
        {
            *(s.product_id for s in scan_rows),
            *(c.product_id for c in complaints),
            *(d.product_id for d in defects),
            *(d.expected_product_id for d in defects),
        },
    )
    user = names_of(
        session,
        User.name,
        {
            *(o.user_id for o in overrides),
            *(c.created_by for c in complaints),
            *(c.resolved_by for c in complaints),
        },
    )
    order = session.get_one(Order, parcel.order_id)
    hold = hold_out(session, parcel_id)
    return {
        "parcel_id": parcel_id,
        "order": summary.order,
        "customer_ref": order.customer_ref,
        "status": parcel.status,
        "verdict": _verdict(parcel, bool(overrides)),
        "station": summary.station,
        "packer": summary.packer,
        "opened_at": _iso(parcel.opened_at),
        "closed_at": _iso(parcel.closed_at),
        "shipped_at": _iso(parcel.shipped_at),
        "voided_at": _iso(parcel.voided_at),
        "tracking_number": parcel.tracking_number,
        "sscc": parcel.sscc,
        "weight_g": parcel.weight_g,
        "expected_weight_g": parcel.expected_weight_g,
        "lines": [line.model_dump(mode="json") for line in summary.lines],
        "scans": [
            _row(s, {"parcel_id", "station_id", "product_id"}, sku=sku.get(s.product_id or 0))
            for s in scan_rows
        ],
        "defects": [
            _row(
                d,
                {"parcel_id", "product_id", "expected_product_id", "station_id", "packer_id"},
                sku=sku.get(d.product_id or 0),
                expected_sku=sku.get(d.expected_product_id or 0),
            )
            for d in defects
        ],
        "overrides": [_row(o, {"parcel_id", "user_id"}, by=user.get(o.user_id)) for o in overrides],
        "complaints": [
            _row(
                c,
                {"parcel_id", "customer_ref", "product_id", "created_by", "resolved_by"},
                sku=sku.get(c.product_id or 0),
                created_by=user.get(c.created_by),
                resolved_by=user.get(c.resolved_by or 0),
            )
            for c in complaints
        ],
        "photos": [_photo(p) for p in photos],
        "evidence_hold": hold.model_dump(mode="json", exclude={"parcel_id"}),
    }


def _add(
    archive: zipfile.ZipFile, path: str, data: bytes, stamp: datetime, *, packed: bool
) -> None:
    info = zipfile.ZipInfo(path, date_time=stamp.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if packed else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False).encode() + b"\n"


def build_bundle(
    *, record: dict[str, Any], store: PhotoStore, generated_by: str, generated_at: datetime
) -> Bundle:
    """The ZIP of a record from parcel_record, with the kept photos read from the store.

    One image is in memory at a time besides the archive. A photo whose file has gone since
    the record was read (retention ran in between) is recorded as missing, not invented.

    Args:
        record: the parcel's record; its photos' `file` entries are updated in place.
        store: where the images are.
        generated_by: who asked: a principal's label, or `link:<label>` for a shared link.
        generated_at: when (timezone-aware; also the files' time in the archive).

    Raises:
        StoreUnavailable: the store cannot be read now.
    """
    out = io.BytesIO()
    files: list[dict[str, Any]] = []
    images = 0
    with zipfile.ZipFile(out, "w") as archive:
        for photo in record["photos"]:
            if photo["file"] is None:
                continue
            try:
                image = store.get(photo["sha256"])
            except PhotoMissing:
                photo["file"], photo["missing"] = None, True
                continue
            # JPEGs do not shrink: stored as they are, so the bytes in the archive are the file.
            _add(archive, photo["file"], image, generated_at, packed=False)
            files.append({"path": photo["file"], "sha256": hashlib.sha256(image).hexdigest(),
                          "bytes": len(image)})  # fmt: skip
            images += 1
        body = _json(record)
        _add(archive, PARCEL_FILE, body, generated_at, packed=True)
        files.append({"path": PARCEL_FILE, "sha256": hashlib.sha256(body).hexdigest(),
                      "bytes": len(body)})  # fmt: skip
        manifest = {"parcel_id": record["parcel_id"], "generated_at": _iso(generated_at),
                    "generated_by": generated_by, "files": files}  # fmt: skip
        _add(archive, MANIFEST_FILE, _json(manifest), generated_at, packed=True)
    data = out.getvalue()
    return Bundle(data=data, sha256=hashlib.sha256(data).hexdigest(), images=images)


def record_download(
    *,
    session: Session,
    parcel_id: int,
    actor: str,
    via: str,
    bundle: Bundle,
    ip: str | None,
) -> None:
    """Audit a bundle handed out: who, how (`key` or `link`), and the archive's hash."""
    record_event(session, actor=actor, action="evidence.download", object_type="parcel",
                 object_id=parcel_id, ip=ip,
                 detail={"via": via, "images": bundle.images, "bytes": len(bundle.data),
                         "sha256": bundle.sha256})  # fmt: skip
    session.flush()


def record_share(
    *, session: Session, parcel_id: int, actor: str, expires_at: datetime, ip: str | None
) -> None:
    """Audit a share link made for the parcel's bundle.

    Raises:
        NotFound: no such parcel.
    """
    find_parcel(session, parcel_id)
    record_event(session, actor=actor, action="evidence.share", object_type="parcel",
                 object_id=parcel_id, detail={"expires_at": _iso(expires_at)}, ip=ip)  # fmt: skip
    session.flush()
