"""Packing: a station opens a parcel, scans into it, closes it; supervisors release or void it.

Every write runs its whole transaction in one worker thread (`api.db.in_transaction`): no lock
or SQLite write slot is held while the request waits for the event loop between thread hops.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from api import metrics
from api.db import in_transaction
from api.deps import (
    ParcelReaderDep,
    SessionDep,
    StationDep,
    SupervisorDep,
    TodayDep,
    WeightPolicyDep,
    client_ip,
    warehouse_zone,
)
from api.errors import ERROR_RESPONSES
from api.idempotency import IdempotencyKey, once, run_once
from api.photo_urls import photo_urls_for
from api.settings import get_settings
from qc import parcels
from qc.errors import Forbidden
from qc.pack_data import pack_data
from qc.parcel_detail import parcel_detail
from qc.parcel_state import find_parcel
from qc.scanning import ReplayedAnswer, record_scan
from qc.schemas import (
    CloseOut,
    DamagedIn,
    OverrideIn,
    PackData,
    ParcelDetail,
    ParcelOpen,
    ParcelOut,
    ScanAnswer,
    ScanIn,
    ShipIn,
    ShortIn,
    VoidIn,
    WeightIn,
    WeightOut,
)

router = APIRouter(prefix="/parcels", tags=["packing"], responses=ERROR_RESPONSES)
ParcelId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "",
    status_code=201,
    response_model=ParcelOut,
    responses={200: {"model": ParcelOut, "description": "This station's open parcel, resumed"}},
)
async def open_parcel(
    data: ParcelOpen, request: Request, station: StationDep, key: IdempotencyKey = None
) -> JSONResponse:
    """Open a parcel for the scanned packing slip; the same station scanning it again resumes it."""

    def work(session: Session) -> tuple[int, ParcelOut]:
        parcel, created = parcels.open_parcel(
            session=session, station=station, order_code=data.order, packer_badge=data.packer
        )
        return (201 if created else 200), parcel

    return await run_once(request, station, key, data, work)


@router.post("/{parcel_id}/scans", response_model=ScanAnswer)
async def scan(
    parcel_id: ParcelId, data: ScanIn, request: Request, station: StationDep, today: TodayDep
) -> JSONResponse:
    """Answer one scan. The same `event_id` again returns the first answer and records nothing."""
    answer = await in_transaction(
        request,
        lambda session: record_scan(
            session=session, parcel_id=parcel_id, station=station, data=data, today=today
        ),
    )
    if not isinstance(answer, ReplayedAnswer):
        metrics.scan_answered(answer)
    return JSONResponse(answer)


@router.post("/{parcel_id}/damaged", response_model=ParcelOut)
async def damaged(
    parcel_id: ParcelId,
    data: DamagedIn,
    request: Request,
    station: StationDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Flag scanned units as damaged: they stop counting until replaced."""
    return await once(
        request,
        station,
        key,
        data,
        lambda session: parcels.flag_damaged(
            session=session, parcel_id=parcel_id, station=station, sku=data.sku, qty=data.qty
        ),
    )


@router.post("/{parcel_id}/short", response_model=ParcelOut)
async def short(
    parcel_id: ParcelId,
    data: ShortIn,
    request: Request,
    station: StationDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Declare units that ship short, with the reason."""
    return await once(
        request,
        station,
        key,
        data,
        lambda session: parcels.declare_short(
            session=session,
            parcel_id=parcel_id,
            station=station,
            sku=data.sku,
            qty=data.qty,
            reason=data.reason,
        ),
    )


@router.post("/{parcel_id}/weight", response_model=WeightOut)
async def weight(
    parcel_id: ParcelId,
    data: WeightIn,
    request: Request,
    station: StationDep,
    policy: WeightPolicyDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Record the scale's reading; the answer says whether it matches what was scanned."""
    return await once(
        request,
        station,
        key,
        data,
        lambda session: parcels.record_weight(
            session=session,
            parcel_id=parcel_id,
            station=station,
            grams=data.grams,
            policy=policy,
        ),
    )


@router.post("/{parcel_id}/close", response_model=CloseOut)
async def close(
    parcel_id: ParcelId,
    request: Request,
    station: StationDep,
    policy: WeightPolicyDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Apply the verification rule: `passed`, or `held` with the defects that hold it.

    With QC_PHOTO_REQUIRED, a parcel without a photo is refused (409 `photo_required`).
    """
    required, zone = get_settings().photo_required, warehouse_zone()
    response = await once(
        request,
        station,
        key,
        None,
        lambda session: parcels.close_parcel(
            session=session,
            parcel_id=parcel_id,
            station=station,
            policy=policy,
            photo_required=required,
            zone=zone,
        ),
    )
    metrics.parcel_closed(response)
    return response


@router.post("/{parcel_id}/override", response_model=ParcelOut)
async def override(
    parcel_id: ParcelId,
    data: OverrideIn,
    request: Request,
    user: SupervisorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Release a held parcel (supervisor); the reason goes to the audit log."""
    ip = client_ip(request)
    response = await once(
        request,
        user,
        key,
        data,
        lambda session: parcels.override_hold(
            session=session, parcel_id=parcel_id, user=user, reason=data.reason, ip=ip
        ),
    )
    metrics.hold_overridden(response)
    return response


@router.post("/{parcel_id}/void", response_model=ParcelOut)
async def void(
    parcel_id: ParcelId,
    data: VoidIn,
    request: Request,
    user: SupervisorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Abandon a parcel that is packing or held (supervisor), so its order can be packed again."""
    ip = client_ip(request)
    return await once(
        request,
        user,
        key,
        data,
        lambda session: parcels.void_parcel(
            session=session, parcel_id=parcel_id, user=user, reason=data.reason, ip=ip
        ),
    )


@router.post("/{parcel_id}/ship", response_model=ParcelOut)
async def ship(
    parcel_id: ParcelId,
    data: ShipIn,
    request: Request,
    station: StationDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Mark a passed parcel as handed to the carrier."""
    zone = warehouse_zone()
    response = await once(
        request,
        station,
        key,
        data,
        lambda session: parcels.ship_parcel(
            session=session,
            parcel_id=parcel_id,
            station=station,
            tracking_number=data.tracking_number,
            zone=zone,
            sscc=data.sscc,
        ),
    )
    metrics.parcel_shipped(response)
    return response


@router.get("/{parcel_id}/pack-data", response_model=PackData)
def get_pack_data(parcel_id: ParcelId, session: SessionDep, station: StationDep) -> PackData:
    """The station's parcel with its expected products' barcodes: what the bench agent caches
    to answer scans itself, with the same verification module, while the server is away."""
    return pack_data(session=session, parcel_id=parcel_id, station=station)


@router.get("/{parcel_id}", response_model=ParcelDetail)
def get_parcel(parcel_id: ParcelId, session: SessionDep, reader: ParcelReaderDep) -> ParcelDetail:
    """The whole story of a parcel: lines, scans, defects, photos, overrides, timeline.

    Photo URLs are signed for the caller and expire; stations get none.
    """
    parcel = find_parcel(session, parcel_id)
    if reader.kind == "station" and parcel.station_id != reader.id:
        raise Forbidden(f"parcel {parcel_id} belongs to another station", code="not_your_parcel")
    return parcel_detail(session, parcel, photo_urls=photo_urls_for(reader),
                         with_complaints=reader.kind != "station")  # fmt: skip
