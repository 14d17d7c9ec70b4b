"""What support's lookup answers: the parcels (and parcel-less orders) a typed query names."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from qc.enums import ParcelStatus

Matched = Literal["parcel_id", "order", "tracking_number", "customer_ref", "sscc"]


class LookupResult(BaseModel):
    """One parcel, or an order that has none yet (`parcel_id` and the parcel's fields null)."""

    parcel_id: int | None
    order: str
    customer_ref: str | None
    status: ParcelStatus | None = Field(description="Voided parcels are listed too.")
    station: str | None
    packer: str | None
    opened_at: datetime | None
    closed_at: datetime | None
    shipped_at: datetime | None
    tracking_number: str | None
    matched: Matched = Field(description="Which identifier the query was found as.")


class LookupOut(BaseModel):
    q: str = Field(description="The query, trimmed.")
    results: list[LookupResult] = Field(description="Newest first, at most 50; empty if none.")
