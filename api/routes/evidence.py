"""Evidence bundles: a parcel's photos, record and manifest in one ZIP, for support and
managers with a key, or for anyone holding a share link they made. Every download and every
link is written to the audit log."""

import time
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.db import in_transaction
from api.deps import API_PREFIX, EvidenceKeeperDep, client_ip
from api.errors import ERROR_RESPONSES
from api.settings import get_settings
from api.signing import check_evidence_signed, signed_evidence_url
from qc import evidence
from qc.errors import Forbidden
from qc.models import utcnow
from qc.photo_store import PhotoStore

router = APIRouter(tags=["evidence"], responses=ERROR_RESPONSES)
ParcelId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ZIP: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/zip": {}}, "description": "The evidence bundle (ZIP)"}
}


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: int = Field(default=72, ge=1, le=720, description="How long the link works.")


class ShareOut(BaseModel):
    url: str = Field(description="Downloads the bundle without a key until it expires.")
    expires_at: datetime


async def _bundle(request: Request, parcel_id: int, *, actor: str, via: str) -> Response:
    """Read the record, build the ZIP from it and the store, audit the download, send it."""
    ip = client_ip(request)
    record = await in_transaction(
        request, lambda s: evidence.parcel_record(session=s, parcel_id=parcel_id), write=False
    )
    store: PhotoStore = request.app.state.photo_store
    bundle = await run_in_threadpool(
        partial(evidence.build_bundle, record=record, store=store, generated_by=actor,
                generated_at=utcnow())
    )  # fmt: skip
    await in_transaction(
        request,
        lambda s: evidence.record_download(
            session=s, parcel_id=parcel_id, actor=actor, via=via, bundle=bundle, ip=ip
        ),
        write=True,
    )
    disposition = f'attachment; filename="parcel-{parcel_id}-evidence.zip"'
    # Not cached anywhere: a download served from a cache would be one nobody logged.
    headers = {"Content-Disposition": disposition, "Cache-Control": "no-store"}
    return Response(bundle.data, media_type="application/zip", headers=headers)


@router.get("/parcels/{parcel_id}/evidence", response_class=Response, responses=ZIP)
async def download_evidence(
    parcel_id: ParcelId, request: Request, user: EvidenceKeeperDep
) -> Response:
    """The parcel's evidence bundle: photos, `parcel.json` and `manifest.json` (SHA-256 of
    every other file). Audited as `evidence.download`."""
    return await _bundle(request, parcel_id, actor=user.label, via="key")


@router.post("/parcels/{parcel_id}/evidence/share", status_code=201, response_model=ShareOut)
async def share_evidence(
    parcel_id: ParcelId, request: Request, user: EvidenceKeeperDep, data: ShareIn | None = None
) -> ShareOut:
    """A signed link to the bundle that works without a key for `hours` (1 to 720, default 72);
    downloads through it are audited in the creator's name. Audited as `evidence.share`."""
    expires = int(time.time()) + (data or ShareIn()).hours * 3600
    expires_at = datetime.fromtimestamp(expires, UTC)
    ip = client_ip(request)
    await in_transaction(
        request,
        lambda s: evidence.record_share(
            session=s, parcel_id=parcel_id, actor=user.label, expires_at=expires_at, ip=ip
        ),
    )
    path = signed_evidence_url(prefix=API_PREFIX, secret=get_settings().secret_key,
                               parcel_id=parcel_id, by=user.label, expires=expires)  # fmt: skip
    # Absolute: the link is meant to leave the building (a marketplace, a carrier).
    return ShareOut(url=str(request.base_url).rstrip("/") + path, expires_at=expires_at)


@router.get("/evidence/shared", response_class=Response, responses=ZIP)
async def shared_evidence(
    request: Request,
    parcel: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    expires: Annotated[int | None, Query(ge=0, le=2**40)] = None,
    by: Annotated[str | None, Query(max_length=140)] = None,
    sig: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The bundle through a share link, no key needed: 403 `bad_signature` for a link that
    was altered, `link_expired` for one past its time. Audited with actor `link:<by>`."""
    if parcel is None or expires is None or by is None or sig is None:
        raise Forbidden("this evidence link is incomplete", code="bad_signature")
    check_evidence_signed(secret=get_settings().secret_key, parcel_id=parcel, expires=expires,
                          by=by, sig=sig)  # fmt: skip
    return await _bundle(request, parcel, actor=f"link:{by}", via="link")
