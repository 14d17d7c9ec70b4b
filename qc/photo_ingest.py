"""From an uploaded file to stored images: the work done before a photo's row is written.

Pure of the database: the caller checks the parcel first and records the photo after, so the
files are durable before any row points to them (see qc.photos).
"""

from dataclasses import dataclass, field

from qc.errors import Unusable
from qc.photo_store import PhotoStore, key_of
from qc.photos import StoredPhoto
from qc.vision.photo import QualityLimits, codes_in, prepare


@dataclass(frozen=True)
class PhotoPolicy:
    max_pixels: int = 50_000_000
    max_side: int = 2000
    limits: QualityLimits = field(default_factory=QualityLimits)


def upload_hash(data: bytes) -> str:
    """The upload's own hash: a station retrying the same file is recognised by it."""
    return key_of(data)


def ingest(data: bytes, *, store: PhotoStore, policy: PhotoPolicy) -> StoredPhoto:
    """Check, strip, measure and decode an upload, then store the image and its thumbnail.

    Args:
        data: the uploaded JPEG or PNG.
        store: where the kept image and thumbnail go.
        policy: the size caps and the quality gate.

    Returns:
        What the photo's row records.

    Raises:
        UnsupportedMedia, TooLarge: not a readable image, or too many pixels.
        Unusable: the photo fails the quality gate (`photo_quality`, with the measures).
    """
    prepared = prepare(
        data, max_pixels=policy.max_pixels, max_side=policy.max_side, limits=policy.limits
    )
    quality = prepared.quality
    if not quality.ok:
        raise Unusable(
            "the photo cannot serve as evidence: " + "; ".join(quality.reasons),
            code="photo_quality",
            extra={"quality": {"ok": False, "sharpness": quality.sharpness,
                               "brightness": quality.brightness,
                               "reasons": list(quality.reasons)}},
        )  # fmt: skip
    codes = codes_in(prepared.gray)
    thumb_key = store.put(prepared.thumbnail)
    key = store.put(prepared.jpeg)
    return StoredPhoto(
        upload_sha256=upload_hash(data),
        sha256=key,
        thumb_sha256=thumb_key,
        size_bytes=len(prepared.jpeg),
        prepared=prepared,
        codes=codes,
    )
