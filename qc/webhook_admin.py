"""Webhook administration: endpoints (URL, secret, event types), the delivery log, replays.

Every change is an audit event; a secret is never shown back nor written to the audit log.
"""

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from qc.audit import record_event
from qc.errors import Conflict, InvalidInput, NotFound
from qc.identity import Principal
from qc.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from qc.webhook_schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)
from qc.webhooks import EVENT_TYPES, envelope

SECRET_MIN, SECRET_MAX, URL_MAX = 16, 200, 2000


def check_url(url: str) -> str:
    """The URL, trimmed, if it is an absolute http(s) URL with a host.

    Raises:
        InvalidInput: `invalid_url` otherwise.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # a port that is not a number raises
    except ValueError:
        host = None
    if (
        len(url) > URL_MAX
        or parts.scheme not in ("http", "https")
        or not host
        or any(c.isspace() or ord(c) < 32 for c in url)
    ):
        raise InvalidInput(
            f"the URL must be an http:// or https:// address with a host (at most {URL_MAX} "
            "characters)",
            code="invalid_url",
        )
    return url


def check_secret(secret: str) -> str:
    if not SECRET_MIN <= len(secret) <= SECRET_MAX or "\x00" in secret:
        raise InvalidInput(
            f"the secret must be {SECRET_MIN} to {SECRET_MAX} characters long",
            code="invalid_secret",
        )
    return secret


def check_event_type(event_type: str) -> str:
    if event_type not in EVENT_TYPES:
        raise InvalidInput(
            f"unknown event type {event_type[:50]!r}; known: {', '.join(EVENT_TYPES)}",
            code="unknown_event_type",
        )
    return event_type


def check_events(events: list[str]) -> list[str]:
    """The event types, each known, without repeats, in the order given."""
    return list(dict.fromkeys(check_event_type(e) for e in events))


def _out(endpoint: WebhookEndpoint) -> WebhookOut:
    assert endpoint.id is not None
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.events,
        active=endpoint.active,
        created_at=endpoint.created_at,
    )


def _audit(
    session: Session,
    user: Principal,
    action: str,
    endpoint: WebhookEndpoint,
    ip: str | None,
    detail: dict[str, Any],
) -> None:
    assert endpoint.id is not None
    record_event(
        session,
        actor=user.label,
        action=action,
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        detail=detail,
        ip=ip,
    )


def create_endpoint(
    *, session: Session, data: WebhookIn, user: Principal, ip: str | None
) -> WebhookOut:
    """Add an endpoint; events happening from now on are queued for it.

    Raises:
        InvalidInput: `invalid_url`, `invalid_secret`, `unknown_event_type`.
    """
    endpoint = WebhookEndpoint(
        url=check_url(data.url),
        secret=check_secret(data.secret),
        events=check_events(data.events or []),
    )
    session.add(endpoint)
    session.flush()
    _audit(
        session,
        user,
        "webhook.create",
        endpoint,
        ip,
        {"url": endpoint.url, "events": endpoint.events},
    )
    return _out(endpoint)


def list_endpoints(*, session: Session) -> list[WebhookOut]:
    rows = session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.id))).all()
    return [_out(e) for e in rows]


def _endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}", code="webhook_not_found")
    return endpoint


def update_endpoint(
    *, session: Session, endpoint_id: int, data: WebhookPatch, user: Principal, ip: str | None
) -> WebhookOut:
    """Change what the patch gives; a new secret signs the deliveries sent from now on.

    Raises:
        NotFound: `webhook_not_found`.
        InvalidInput: `invalid_url`, `invalid_secret`, `unknown_event_type`.
    """
    endpoint = _endpoint(session, endpoint_id)
    given = data.model_fields_set
    if "url" in given and data.url is not None:
        endpoint.url = check_url(data.url)
    if "secret" in given and data.secret is not None:
        endpoint.secret = check_secret(data.secret)
    if "events" in given:
        endpoint.events = check_events(data.events or [])
    if "active" in given and data.active is not None:
        endpoint.active = data.active
    session.add(endpoint)
    session.flush()
    changed = sorted(f for f in given if getattr(data, f) is not None or f == "events")
    _audit(session, user, "webhook.update", endpoint, ip, {"changed": changed})
    return _out(endpoint)


def deactivate_endpoint(
    *, session: Session, endpoint_id: int, user: Principal, ip: str | None
) -> WebhookOut:
    """Stop sending to an endpoint: no new deliveries, and pending ones go dead (replayable).

    Raises:
        NotFound: `webhook_not_found`.
    """
    endpoint = _endpoint(session, endpoint_id)
    endpoint.active = False
    session.add(endpoint)
    session.flush()
    _audit(session, user, "webhook.deactivate", endpoint, ip, {})
    return _out(endpoint)


def _delivery_query(*columns: Any) -> Any:
    return (
        sa.select(*columns)
        .select_from(WebhookDelivery)
        .join(WebhookEvent, col(WebhookDelivery.event_id) == WebhookEvent.id)
        .join(WebhookEndpoint, col(WebhookDelivery.endpoint_id) == WebhookEndpoint.id)
    )


_ROW: tuple[Any, ...] = (
    WebhookDelivery,
    col(WebhookEvent.event_id).label("uid"),
    col(WebhookEvent.type),
    col(WebhookEvent.created_at),
    col(WebhookEndpoint.url),
)


def _delivery_out(row: Any) -> DeliveryOut:
    d: WebhookDelivery = row.WebhookDelivery
    assert d.id is not None
    return DeliveryOut(
        id=d.id,
        event_id=row.uid,
        type=row.type,
        endpoint_id=d.endpoint_id,
        url=row.url,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_status=d.last_status,
        last_error=d.last_error,
        delivered_at=d.delivered_at,
        created_at=row.created_at,
    )


def list_deliveries(
    *,
    session: Session,
    status: str | None = None,
    event_type: str | None = None,
    endpoint_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> DeliveryPage:
    """Deliveries, newest first, with how many match.

    Raises:
        InvalidInput: `unknown_event_type`.
    """
    where = []
    if status is not None:
        where.append(col(WebhookDelivery.status) == status)
    if event_type is not None:
        where.append(col(WebhookEvent.type) == check_event_type(event_type))
    if endpoint_id is not None:
        where.append(col(WebhookDelivery.endpoint_id) == endpoint_id)
    total = session.exec(_delivery_query(func.count()).where(*where)).one()[0]
    rows = session.exec(
        _delivery_query(*_ROW)
        .where(*where)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return DeliveryPage(total=total, rows=[_delivery_out(r) for r in rows])


def _find_delivery(session: Session, delivery_id: int) -> Any:
    row = session.exec(_delivery_query(*_ROW).where(col(WebhookDelivery.id) == delivery_id)).first()
    if row is None:
        raise NotFound(f"no webhook delivery {delivery_id}", code="delivery_not_found")
    return row


def delivery_detail(*, session: Session, delivery_id: int) -> DeliveryDetail:
    """A delivery with the envelope it sends and every try made.

    Raises:
        NotFound: `delivery_not_found`.
    """
    row = _find_delivery(session, delivery_id)
    event = session.get(WebhookEvent, row.WebhookDelivery.event_id)
    assert event is not None
    attempts = session.exec(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(col(WebhookAttempt.id))
    ).all()
    log = [AttemptOut.model_validate(a, from_attributes=True) for a in attempts]
    return DeliveryDetail(**_delivery_out(row).model_dump(), event=envelope(event), attempt_log=log)


def replay_delivery(
    *, session: Session, delivery_id: int, user: Principal, ip: str | None
) -> DeliveryOut:
    """Send a delivery again, due now, with a fresh count of tries (its log stays).

    Raises:
        NotFound: `delivery_not_found`.
        Conflict: `endpoint_inactive` when its endpoint no longer takes events.
    """
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}", code="delivery_not_found")
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    assert endpoint is not None
    if not endpoint.active:
        raise Conflict(
            f"webhook endpoint {endpoint.id} is inactive: activate it before replaying",
            code="endpoint_inactive",
        )
    before = delivery.status
    # Clearing the lease also keeps a try in flight from writing its outcome over the replay.
    delivery.status, delivery.attempts, delivery.lease_until = "pending", 0, None
    delivery.next_attempt_at = utcnow()
    session.add(delivery)
    session.flush()
    record_event(
        session,
        actor=user.label,
        action="webhook.replay",
        object_type="webhook_delivery",
        object_id=delivery_id,
        detail={"previous_status": before},
        ip=ip,
    )
    return _delivery_out(_find_delivery(session, delivery_id))


def first_due(session: Session) -> datetime | None:
    """When the next pending delivery is due (None when none is pending)."""
    return session.exec(
        select(func.min(WebhookDelivery.next_attempt_at)).where(WebhookDelivery.status == "pending")
    ).one()
