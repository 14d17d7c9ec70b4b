"""Complaints (support, managers): record what a customer reported, resolve it, list them."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import EvidenceKeeperDep, SessionDep, client_ip, warehouse_zone
from api.errors import ERROR_RESPONSES
from api.idempotency import IdempotencyKey, once, run_once
from api.settings import get_settings
from qc import complaints
from qc.complaint_schemas import (
    MAX_ID,
    ComplaintFilters,
    ComplaintIn,
    ComplaintKind,
    ComplaintList,
    ComplaintOut,
    ComplaintResolve,
    ComplaintStatus,
)

router = APIRouter(prefix="/complaints", tags=["support"], responses=ERROR_RESPONSES)
ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _policy() -> complaints.ClaimPolicy:
    settings = get_settings()
    return complaints.ClaimPolicy(claims=settings.repeat_claims, days=settings.repeat_claim_days)


@router.post("", status_code=201, response_model=ComplaintOut)
async def create_complaint(
    data: ComplaintIn, request: Request, user: EvidenceKeeperDep, key: IdempotencyKey = None
) -> JSONResponse:
    """Record a complaint about the parcel named by order, tracking number or parcel id.

    On a parcel that passed QC it adds escaped defects (counted in the statistics); on one a
    supervisor released, it points at that override instead.
    """
    ip, zone, policy = client_ip(request), warehouse_zone(), _policy()
    return await run_once(
        request,
        user,
        key,
        data,
        lambda session: (
            201,
            complaints.create_complaint(
                session=session, data=data, user=user, policy=policy, zone=zone, ip=ip
            ),
        ),
    )


@router.patch("/{complaint_id}", response_model=ComplaintOut)
async def resolve_complaint(
    complaint_id: ComplaintId,
    data: ComplaintResolve,
    request: Request,
    user: EvidenceKeeperDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Resolve a complaint: reship, refund or no action, with a note. Once only."""
    ip = client_ip(request)
    return await once(
        request,
        user,
        key,
        data,
        lambda session: complaints.resolve_complaint(
            session=session, complaint_id=complaint_id, data=data, user=user, ip=ip
        ),
    )


async def _filters(
    status: ComplaintStatus | None = None,
    kind: ComplaintKind | None = None,
    customer_ref: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    parcel_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    order: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    start: Annotated[date | None, Query(alias="from", description="First local day.")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last local day.")] = None,
    repeat: Annotated[bool | None, Query(description="Only repeat claimants (or not).")] = None,
    evidence: Annotated[bool | None, Query(description="Only with photo evidence.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ComplaintFilters:
    return ComplaintFilters(
        status=status, kind=kind, customer_ref=customer_ref, parcel_id=parcel_id, order=order,
        start=start, end=end, repeat=repeat, evidence=evidence, limit=limit, offset=offset,
    )  # fmt: skip


@router.get("", response_model=ComplaintList)
def list_complaints(
    session: SessionDep,
    _: EvidenceKeeperDep,
    filters: Annotated[ComplaintFilters, Depends(_filters)],
) -> ComplaintList:
    """Complaints, newest first, filtered; `total` counts every match, `rows` is one page."""
    return complaints.list_complaints(session=session, filters=filters, zone=warehouse_zone())


@router.get("/{complaint_id}", response_model=ComplaintOut)
def get_complaint(
    complaint_id: ComplaintId, session: SessionDep, _: EvidenceKeeperDep
) -> ComplaintOut:
    """One complaint."""
    return complaints.get_complaint(session=session, complaint_id=complaint_id)
