"""Photos: a station uploads the open parcel's photo; support and managers view it; holds.

An upload is checked in stages that each cost more than the last, so bad input is refused
cheaply: the parcel (one query), the body's size and type while it streams in, the image's
pixel count from its header, then the decode, the quality gate and the barcode decoder on a
worker thread, the files written, and only then the row.
"""

from functools import partial
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from api import metrics
from api.db import in_transaction
from api.deps import (
    PHOTO_VIEWERS,
    CredentialsDep,
    EvidenceKeeperDep,
    ManagerDep,
    StationDep,
    client_ip,
    get_principal,
)
from api.errors import ERROR_RESPONSES, ErrorOut
from api.settings import get_settings
from api.signing import check_signed
from api.uploads import read_file_part
from qc import photos
from qc.audit import record_event
from qc.errors import Forbidden, Unusable
from qc.photo_ingest import PhotoPolicy, ingest, upload_hash
from qc.photo_store import PhotoStore
from qc.schemas import HoldIn, HoldOut, PhotoOut
from qc.vision.photo import QualityLimits

router = APIRouter(tags=["photos"], responses=ERROR_RESPONSES)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _policy() -> PhotoPolicy:
    s = get_settings()
    limits = QualityLimits(
        min_sharpness=s.photo_min_sharpness,
        min_brightness=s.photo_min_brightness,
        max_brightness=s.photo_max_brightness,
    )
    return PhotoPolicy(max_pixels=s.photo_max_pixels, max_side=s.photo_max_side, limits=limits)


@router.post(
    "/parcels/{parcel_id}/photos",
    status_code=201,
    response_model=PhotoOut,
    responses={200: {"model": PhotoOut, "description": "The same file again: the first photo"}},
    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"],
                   "properties": {"file": {"type": "string", "format": "binary"}}}}}}},
)  # fmt: skip
async def upload_photo(parcel_id: Id, request: Request, station: StationDep) -> JSONResponse:
    """Photograph the open parcel: 422 `photo_quality` says why a photo is no use as evidence."""

    await in_transaction(
        request,
        lambda s: photos.check_parcel(session=s, parcel_id=parcel_id, station=station),
        write=False,
    )
    data = await read_file_part(request, field="file", limit=get_settings().photo_max_bytes)
    earlier = await in_transaction(
        request,
        lambda s: photos.find_upload(
            session=s, parcel_id=parcel_id, upload_sha256=upload_hash(data)
        ),
        write=False,
    )
    if earlier is None:
        store: PhotoStore = request.app.state.photo_store
        try:
            stored = await anyio.to_thread.run_sync(
                partial(ingest, data, store=store, policy=_policy()),
                limiter=request.app.state.image_slots,
            )
        except Unusable:  # refused by the quality gate
            metrics.photo("rejected")
            raise
        photo, created = await in_transaction(
            request,
            lambda s: photos.record_photo(
                session=s, parcel_id=parcel_id, station=station, stored=stored
            ),
        )
        if created:
            metrics.photo("kept")
    else:
        photo, created = earlier, False
    return JSONResponse(photos.photo_out(photo).model_dump(mode="json"), 201 if created else 200)


async def photo_viewer(
    request: Request,
    photo_id: Id,
    size: Literal["full", "thumb"] = "full",
    expires: Annotated[int | None, Query(ge=0, le=2**40)] = None,
    by: Annotated[str | None, Query(max_length=140)] = None,
    sig: Annotated[str | None, Query(max_length=64)] = None,
    credentials: CredentialsDep = None,
) -> tuple[str, str]:
    """Who is looking, and how: a signed URL's owner, else a key with a role that may see."""
    if sig is not None or expires is not None or by is not None:
        if sig is None or expires is None or by is None:
            raise Forbidden("this photo link is incomplete", code="bad_signature")
        check_signed(secret=get_settings().secret_key, photo_id=photo_id, size=size,
                     expires=expires, viewer=by, sig=sig)  # fmt: skip
        return by, "signed_url"
    principal = await get_principal(request, credentials)
    if principal.role not in PHOTO_VIEWERS:
        names = ", ".join(PHOTO_VIEWERS)
        raise Forbidden(f"photos are shown only to the roles: {names}", code="role_required")
    return principal.label, "key"


@router.get(
    "/photos/{photo_id}",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "The JPEG"},
        410: {"model": ErrorOut, "description": "Deleted after the retention period"},
    },
)
async def view_photo(
    photo_id: Id,
    request: Request,
    viewer: Annotated[tuple[str, str], Depends(photo_viewer)],
    size: Literal["full", "thumb"] = "full",
) -> Response:
    """The photo (`size=thumb`: its thumbnail). Every view is written to the audit log."""
    ip = client_ip(request)

    def look(session: Session) -> str:
        photo = photos.photo_for_view(session, photo_id)
        record_event(
            session,
            actor=viewer[0],
            action="photo.view",
            object_type="photo",
            object_id=photo_id,
            ip=ip,
            detail={"parcel_id": photo.parcel_id, "size": size, "via": viewer[1]},
        )
        return photo.thumb_sha256 if size == "thumb" else photo.sha256

    key = await in_transaction(request, look, write=True)
    store: PhotoStore = request.app.state.photo_store
    image = await run_in_threadpool(store.get, key)
    # Not cached anywhere: a view served from a cache would be a view nobody logged.
    return Response(image, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post(
    "/parcels/{parcel_id}/hold-evidence",
    status_code=201,
    response_model=HoldOut,
    responses={200: {"model": HoldOut, "description": "Already held: unchanged"}},
)
async def hold_evidence(
    parcel_id: Id, data: HoldIn, request: Request, user: EvidenceKeeperDep
) -> JSONResponse:
    """Keep the parcel's photos past retention, for a dispute (support, managers)."""
    ip = client_ip(request)
    hold, created = await in_transaction(
        request,
        lambda s: photos.hold_evidence(
            session=s, parcel_id=parcel_id, user=user, reason=data.reason, ip=ip
        ),
    )
    return JSONResponse(hold.model_dump(mode="json"), 201 if created else 200)


@router.delete("/parcels/{parcel_id}/hold-evidence", response_model=HoldOut)
async def release_evidence(parcel_id: Id, request: Request, user: ManagerDep) -> HoldOut:
    """End the hold (managers): the photos fall under retention again."""
    ip = client_ip(request)
    return await in_transaction(
        request,
        lambda s: photos.release_evidence(session=s, parcel_id=parcel_id, user=user, ip=ip),
    )
