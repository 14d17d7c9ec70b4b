"""Webhooks, for admins: where events go, what was sent, and sending a delivery again."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from api.db import in_transaction
from api.deps import AdminDep, SessionDep, client_ip
from api.errors import ERROR_RESPONSES
from api.idempotency import IdempotencyKey, run_once
from qc import webhook_admin
from qc.webhook_schemas import (
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    WebhookIn,
    WebhookList,
    WebhookOut,
    WebhookPatch,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=ERROR_RESPONSES)
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DeliveryId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", status_code=201, response_model=WebhookOut)
async def create_webhook(
    data: WebhookIn, request: Request, admin: AdminDep, key: IdempotencyKey = None
) -> JSONResponse:
    """Add an endpoint: events are POSTed to it, signed with its secret (never shown back)."""
    ip = client_ip(request)
    return await run_once(
        request,
        admin,
        key,
        data,
        lambda session: (
            201,
            webhook_admin.create_endpoint(session=session, data=data, user=admin, ip=ip),
        ),
    )


@router.get("", response_model=WebhookList)
def list_webhooks(session: SessionDep, _admin: AdminDep) -> WebhookList:
    """Every endpoint, active or not."""
    return WebhookList(rows=webhook_admin.list_endpoints(session=session))


@router.patch("/{webhook_id}", response_model=WebhookOut)
async def update_webhook(
    webhook_id: WebhookId, data: WebhookPatch, request: Request, admin: AdminDep
) -> WebhookOut:
    """Change the URL, the secret, the event types (empty: all) or whether it is active."""
    ip = client_ip(request)
    return await in_transaction(
        request,
        lambda session: webhook_admin.update_endpoint(
            session=session, endpoint_id=webhook_id, data=data, user=admin, ip=ip
        ),
    )


@router.delete("/{webhook_id}", response_model=WebhookOut)
async def delete_webhook(webhook_id: WebhookId, request: Request, admin: AdminDep) -> WebhookOut:
    """Deactivate an endpoint: its log stays; its pending deliveries go dead, replayable."""
    ip = client_ip(request)
    return await in_transaction(
        request,
        lambda session: webhook_admin.deactivate_endpoint(
            session=session, endpoint_id=webhook_id, user=admin, ip=ip
        ),
    )


@router.get("/deliveries", response_model=DeliveryPage)
def list_deliveries(
    session: SessionDep,
    _admin: AdminDep,
    status: DeliveryStatus | None = None,
    event_type: Annotated[str | None, Query(alias="type", max_length=40)] = None,
    endpoint_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DeliveryPage:
    """Deliveries, newest first, with the number that match the filters."""
    return webhook_admin.list_deliveries(
        session=session,
        status=status,
        event_type=event_type,
        endpoint_id=endpoint_id,
        limit=limit,
        offset=offset,
    )


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(delivery_id: DeliveryId, session: SessionDep, _admin: AdminDep) -> DeliveryDetail:
    """A delivery, the envelope it sends, and every try with its answer."""
    return webhook_admin.delivery_detail(session=session, delivery_id=delivery_id)


@router.post("/deliveries/{delivery_id}/replay", response_model=DeliveryOut)
async def replay_delivery(
    delivery_id: DeliveryId, request: Request, admin: AdminDep
) -> DeliveryOut:
    """Send a delivery again (a dead one, say), due now, with ten fresh tries; audited."""
    ip = client_ip(request)
    return await in_transaction(
        request,
        lambda session: webhook_admin.replay_delivery(
            session=session, delivery_id=delivery_id, user=admin, ip=ip
        ),
    )
