"""What goes in and out of the domain services: validated at the edge, plain data inside."""

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from qc.barcodes import gtin_check_digit
from qc.complaint_schemas import ComplaintOut
from qc.enums import ParcelStatus, ScanResult, ScanSource
from qc.errors import InvalidBarcode
from qc.schema_base import StrictIn

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
OrderNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Quantity = Annotated[int, Field(ge=1, le=10_000)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class BarcodeIn(StrictIn):
    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    pack_qty: Quantity = 1
    symbology: Literal["ean8", "upce"] | None = Field(
        default=None, description="Only for 8-digit codes, which can be EAN-8 or UPC-E."
    )


class ComponentIn(StrictIn):
    sku: Sku
    qty: Quantity = 1


class ProductIn(StrictIn):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    weight_g: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    barcodes: Annotated[list[BarcodeIn], Field(max_length=50)] = []
    components: Annotated[list[ComponentIn], Field(max_length=50)] = []
    requires_serial: bool = False
    tracks_lot: bool = False


class OrderLineIn(StrictIn):
    sku: Sku
    qty: Quantity


class OrderIn(StrictIn):
    customer_ref: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None
    ) = None
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=500)]


class BarcodeOut(_Out):
    code: str
    pack_qty: int


class ComponentOut(_Out):
    sku: str
    qty: int


class ProductOut(_Out):
    sku: str
    name: str
    weight_g: int | None
    barcodes: list[BarcodeOut]
    components: list[ComponentOut]
    requires_serial: bool
    tracks_lot: bool
    is_kit: bool
    updated_at: datetime


class OrderLineOut(_Out):
    sku: str
    qty: int


class OrderOut(_Out):
    number: str
    customer_ref: str | None
    lines: list[OrderLineOut]
    updated_at: datetime


class ParcelOpen(StrictIn):
    order: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="The code scanned from the packing slip: the order number, as printed."
    )
    packer: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ] = Field(description="The packer's badge code.")


class ScanIn(StrictIn):
    code: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    source: ScanSource = ScanSource.SCANNER
    event_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,64}$")] = Field(
        description="The station's own id for this scan; sending it again replays the answer."
    )
    recorded_at: AwareDatetime | None = Field(
        default=None, description="When the station saw the code (with a time zone)."
    )


class DamagedIn(StrictIn):
    sku: Sku
    qty: Quantity = 1


class ShortIn(StrictIn):
    sku: Sku
    qty: Quantity
    reason: Text


class WeightIn(StrictIn):
    grams: Annotated[int, Field(ge=0, le=1_000_000)]


class OverrideIn(StrictIn):
    reason: Text


class VoidIn(StrictIn):
    reason: Text


_SSCC = re.compile(r"(?:\(00\)|00)?([0-9]{18})", re.ASCII)


def sscc_digits(text: str) -> str | None:
    """The 18 digits of an SSCC written bare, after "(00)" or after "00" (its GS1 AI), spaces
    ignored; None when `text` is none of these. The check digit is not checked here."""
    found = _SSCC.fullmatch("".join(text.split()))
    return found.group(1) if found else None


class ShipIn(StrictIn):
    tracking_number: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9-]{4,64}$")
    ]
    sscc: str | None = Field(
        default=None,
        description='The shipping label\'s SSCC: 18 digits, or "(00)" and 18 digits; kept as 18.',
    )

    @field_validator("sscc")
    @classmethod
    def _valid_sscc(cls, value: str | None) -> str | None:
        # A domain error, not a ValueError: a bad label is a 400 `invalid_sscc`, not a 422.
        if value is None:
            return None
        digits = sscc_digits(value)
        if digits is None:
            raise InvalidBarcode(
                'an SSCC is 18 digits, or "(00)" and 18 digits', code="invalid_sscc"
            )
        if gtin_check_digit(digits[:-1]) != int(digits[-1]):
            raise InvalidBarcode(
                f"SSCC {digits} has a wrong check digit: it should be "
                f"{gtin_check_digit(digits[:-1])}",
                code="invalid_sscc",
            )
        return digits


class LineOut(_Out):
    sku: str
    name: str
    expected: int
    scanned: int
    damaged: int
    short: int
    status: Literal["pending", "complete", "short"]


class ParcelOut(_Out):
    id: int
    order: str
    status: ParcelStatus
    station: str
    packer: str
    remaining: int
    lines: list[LineOut]
    awaiting_serial: str | None = Field(description="SKU whose serial the next scan should be.")
    weight_g: int | None
    expected_weight_g: int | None
    tracking_number: str | None
    opened_at: datetime
    closed_at: datetime | None
    shipped_at: datetime | None


class ScanAnswer(_Out):
    scan_id: int
    event_id: str
    result: ScanResult
    ok: bool = Field(description="True when the packer should see green.")
    sku: str | None
    units: int
    message: str
    remaining: int
    lines: list[LineOut]


class DefectOut(_Out):
    kind: str
    sku: str | None
    qty: int


class CloseOut(_Out):
    id: int
    status: ParcelStatus
    defects: list[DefectOut] = Field(description="What holds the parcel; empty when it passed.")


class WeightOut(_Out):
    weight_g: int
    expected_weight_g: int | None
    within_tolerance: bool | None


class ScanOut(_Out):
    id: int
    event_id: str
    code: str
    source: str
    result: str
    sku: str | None
    units: int
    serial: str | None
    lot: str | None
    recorded_at: datetime
    received_at: datetime


class DefectDetailOut(_Out):
    id: int
    kind: str
    stage: str
    sku: str | None
    qty: int
    reason: str | None
    created_at: datetime


class OverrideOut(_Out):
    by: str
    reason: str
    at: datetime


class TimelineEntry(_Out):
    at: datetime
    event: str
    detail: str


class PackDataLine(_Out):
    sku: str
    expected: int
    kit_qty: int
    accepted: int
    damaged: int
    short: int
    weight_g: int | None


class PackDataBarcode(_Out):
    code: str = Field(description="As the catalogue stores it: a GTIN-14, or an internal code.")
    pack_qty: int
    sku: str
    requires_serial: bool


class PackData(_Out):
    """A parcel for a bench that must answer scans without the server (qc.verification)."""

    parcel: ParcelOut
    packing: bool
    lines: list[PackDataLine]
    pending_serial: str | None
    barcodes: list[PackDataBarcode]


class QualityOut(_Out):
    ok: bool
    sharpness: float
    brightness: float
    reasons: list[str]


class PhotoCodeOut(_Out):
    """A code seen in a photo: `sku` when the catalogue knows it, `expected` when it is in the
    order, `confirmed` False for a weak read nothing backed up (it is then not judged).
    `corners` is the code's outline as [x, y] points in the kept image's pixels (photos
    recorded before outlines were kept have none)."""

    text: str
    format: str
    gtin: str | None
    sku: str | None = None
    expected: bool | None = None
    confirmed: bool = True
    order_slip: bool = False
    corners: list[list[int]] | None = None


class PhotoOut(_Out):
    id: int
    parcel_id: int
    width: int
    height: int
    quality: QualityOut
    codes: list[PhotoCodeOut]
    warnings: list[str]
    created_at: datetime
    purged: bool = False
    url: str | None = None  # signed and expiring; None for callers who may not see photos
    thumb_url: str | None = None


class HoldIn(StrictIn):
    reason: Text


class HoldOut(_Out):
    parcel_id: int
    held: bool
    by: str | None = None
    reason: str | None = None
    since: datetime | None = None


class ShipmentOut(_Out):
    tracking_number: str | None
    sscc: str | None
    shipped_at: datetime


class ParcelDetail(ParcelOut):
    customer_ref: str | None
    scans: list[ScanOut]
    defects: list[DefectDetailOut]
    overrides: list[OverrideOut]
    photos: list[PhotoOut] = []
    evidence_hold: HoldOut | None = None
    shipment: ShipmentOut | None = None
    complaints: list[ComplaintOut] = []
    timeline: list[TimelineEntry]
