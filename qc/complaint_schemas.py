"""What the complaint services take and give.

qc.schemas imports this module (a parcel's detail lists its complaints), so this one imports
nothing from it; the base of request bodies lives in qc.schema_base for both.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from qc.schema_base import StrictIn

ComplaintKind = Literal["missing", "wrong", "damaged", "extra", "other"]
ComplaintStatus = Literal["open", "resolved"]
Resolution = Literal["reship", "refund", "no_action"]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
MAX_ID = 2**31 - 1


def _blank_is_none(value: object) -> object:
    # A form sends "" for a field left empty: that is a field not given, not a bad value.
    return None if isinstance(value, str) and not value.strip() else value


class ComplaintIn(StrictIn):
    """A customer's report. At least one of `order`, `tracking_number` and `parcel_id`; when
    several are given they must name the same parcel."""

    order: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None = Field(
        default=None, description="The order number, as the customer or the shop says it."
    )
    tracking_number: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None
    ) = None
    parcel_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    kind: ComplaintKind
    sku: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = Field(
        default=None, description="The SKU the complaint is about, when known."
    )
    qty: Annotated[int, Field(ge=1, le=1000)] = 1
    note: Note | None = None

    @field_validator("order", "tracking_number", "sku", "note", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_is_none(value)


class ComplaintResolve(StrictIn):
    resolution: Resolution
    note: Note | None = None

    @field_validator("note", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_is_none(value)


class EscapedDefectOut(BaseModel):
    kind: str
    sku: str | None
    qty: int


class ComplaintOut(BaseModel):
    id: int
    parcel_id: int
    order: str
    customer_ref: str | None
    kind: ComplaintKind
    sku: str | None
    qty: int
    note: str | None
    status: ComplaintStatus
    resolution: Resolution | None
    resolution_note: str | None
    override_id: int | None = Field(
        description="The override that released the parcel: QC caught it, the release let it go."
    )
    escaped_defects: list[EscapedDefectOut] = Field(
        description="Defects the complaint added to the parcel (it had passed QC)."
    )
    repeat_claimant: bool = Field(
        description="The customer reached the repeat-claim threshold with this complaint."
    )
    evidence_available: bool = Field(
        description="A kept photo of the parcel shows what the complaint says is missing."
    )
    created_by: str
    created_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None


class ComplaintList(BaseModel):
    total: int
    rows: list[ComplaintOut]


class ComplaintFilters(BaseModel):
    """Narrow the list of complaints; `start` and `end` are local days of their creation."""

    status: ComplaintStatus | None = None
    kind: ComplaintKind | None = None
    customer_ref: str | None = None
    parcel_id: int | None = None
    order: str | None = None
    start: date | None = None
    end: date | None = None
    repeat: bool | None = None
    evidence: bool | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)
