"""What the webhook admin endpoints take and give: endpoints, deliveries and their tries.

Values are checked by the service (qc.webhook_admin), not here, so that a URL that is not http
or a secret too short gets a 400 with its own code: 422 is for payloads of the wrong shape.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from qc.schema_base import StrictIn

DeliveryStatus = Literal["pending", "delivered", "dead"]


class WebhookIn(StrictIn):
    url: str = Field(description="Where events are POSTed: an http or https URL.")
    secret: str = Field(description="16 to 200 characters; signs every delivery. Never shown.")
    events: list[str] | None = Field(
        default=None, description="The event types wanted; none or empty: every type."
    )


class WebhookPatch(StrictIn):
    url: str | None = None
    secret: str | None = None
    events: list[str] | None = None
    active: bool | None = None


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str] = Field(description="Empty: every event type.")
    active: bool
    created_at: datetime


class WebhookList(BaseModel):
    rows: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="The id receivers deduplicate on (the envelope's `id`).")
    type: str
    endpoint_id: int
    url: str
    status: DeliveryStatus
    attempts: int = Field(description="Tries since the delivery was queued or last replayed.")
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime = Field(description="When the event happened.")


class AttemptOut(BaseModel):
    id: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryDetail(DeliveryOut):
    event: dict[str, Any] = Field(description="The envelope POSTed: {id, type, created_at, data}.")
    attempt_log: list[AttemptOut] = Field(description="Every try, oldest first.")


class DeliveryPage(BaseModel):
    total: int
    rows: list[DeliveryOut]
