"""Events out: the webhook outbox, written in the transaction of the change it reports.

`emit` adds the event and one pending delivery per active endpoint that wants its type, in the
caller's transaction: if the change rolls back, no event was ever sent; if it commits, the event
is on disk and a deliverer will send it (qc.webhook_delivery), however often the process dies.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from qc.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow

EVENT_TYPES = (
    "parcel.held",
    "parcel.short_shipped",
    "parcel.shipped",
    "complaint.created",
    "complaint.resolved",
)


def envelope(event: WebhookEvent) -> dict[str, Any]:
    """The body a receiver gets: the event id to deduplicate on, its type, time and data."""
    created: datetime = event.created_at
    return {"id": event.event_id, "type": event.type, "created_at": created.isoformat(),
            "data": event.payload}  # fmt: skip


def emit(session: Session, event_type: str, data: dict[str, Any]) -> WebhookEvent:
    """Queue an event for every active endpoint subscribed to its type (all, when it lists none).

    `data` must be JSON-ready (strings, numbers, lists, dicts; times as ISO strings).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    event = WebhookEvent(event_id=str(uuid.uuid4()), type=event_type, payload=data)
    session.add(event)
    session.flush()
    assert event.id is not None
    endpoints = session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.active))).all()
    now = utcnow()
    for endpoint in endpoints:
        if endpoint.events and event_type not in endpoint.events:
            continue
        assert endpoint.id is not None
        session.add(WebhookDelivery(event_id=event.id, endpoint_id=endpoint.id,
                                    next_attempt_at=now))  # fmt: skip
    session.flush()
    return event
