"""Database tables: bounded strings, UTC times, vocabularies from qc.enums stored as text."""

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import JSON, Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _fk(target: str, *, nullable: bool = False, index: bool = True) -> Any:
    default = None if nullable else ...
    return Field(default=default, foreign_key=target, nullable=nullable, index=index)


class Product(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    weight_g: int | None = None
    requires_serial: bool = False
    tracks_lot: bool = False
    is_kit: bool = False
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Barcode(SQLModel, table=True):
    """A code that identifies a product: GS1 codes as GTIN-14, internal codes as given."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    product_id: int = _fk("product.id")
    pack_qty: int = 1


class KitComponent(SQLModel, table=True):
    __tablename__ = "kit_component"

    kit_id: int = Field(foreign_key="product.id", primary_key=True)
    component_id: int = Field(foreign_key="product.id", primary_key=True, index=True)
    qty: int


class Order(SQLModel, table=True):
    __tablename__ = "customer_order"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=64, unique=True)
    customer_ref: str | None = Field(default=None, max_length=128, index=True)
    # What support types, normalised (qc.lookup.lookup_key): no spaces, no leading '#', upper.
    number_key: str | None = Field(default=None, max_length=64, index=True)
    ref_key: str | None = Field(default=None, max_length=128, index=True)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"
    __table_args__ = (sa.UniqueConstraint("order_id", "product_id"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = _fk("customer_order.id")
    product_id: int = _fk("product.id", index=False)
    qty: int


class Station(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    created_at: datetime = _created()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    role: str = Field(max_length=16)
    badge: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = _created()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A bearer key, kept only as its SHA-256; it belongs to one station or one user."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    station_id: int | None = _fk("station.id", nullable=True)
    user_id: int | None = _fk("app_user.id", nullable=True)
    created_at: datetime = _created()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Parcel(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = _fk("customer_order.id")
    # Equal to order_id until the parcel is voided: the unique constraint makes "one live
    # parcel per order" hold under any concurrency, on every engine, without partial indexes.
    live_order_id: int | None = Field(default=None, unique=True)
    station_id: int = _fk("station.id")
    packer_id: int = _fk("app_user.id")
    status: str = Field(max_length=16, index=True)
    pending_serial_sku: str | None = Field(default=None, max_length=64)
    weight_g: int | None = None
    expected_weight_g: int | None = None
    tracking_number: str | None = Field(default=None, max_length=64, unique=True)
    tracking_key: str | None = Field(default=None, max_length=64, index=True)
    sscc: str | None = Field(default=None, max_length=18, index=True)
    opened_at: datetime = _created()
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    shipped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ParcelLine(SQLModel, table=True):
    """Expected units of one SKU in a parcel (kits expanded), fixed when the parcel opens."""

    __tablename__ = "parcel_line"
    __table_args__ = (sa.UniqueConstraint("parcel_id", "product_id"),)

    id: int | None = Field(default=None, primary_key=True)
    parcel_id: int = _fk("parcel.id")
    product_id: int = _fk("product.id", index=False)
    expected: int
    kit_qty: int = 0
    accepted: int = 0
    damaged: int = 0
    short: int = 0


class Scan(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("station_id", "event_id"),
        sa.Index("ix_scan_product_id_serial", "product_id", "serial"),
    )

    id: int | None = Field(default=None, primary_key=True)
    parcel_id: int = _fk("parcel.id")
    station_id: int = Field(foreign_key="station.id")
    event_id: str = Field(max_length=64)
    code: str = Field(max_length=256)
    source: str = Field(max_length=16)
    result: str = Field(max_length=24)
    product_id: int | None = Field(default=None, foreign_key="product.id")
    units: int = 0
    gtin: str | None = Field(default=None, max_length=14)
    lot: str | None = Field(default=None, max_length=20)
    expiry: date | None = None
    serial: str | None = Field(default=None, max_length=256)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = _created()
    answer: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Defect(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    parcel_id: int = _fk("parcel.id")
    kind: str = Field(max_length=24)
    stage: str = Field(max_length=16)
    product_id: int | None = Field(default=None, foreign_key="product.id", index=True)
    expected_product_id: int | None = Field(default=None, foreign_key="product.id")
    qty: int = 1
    station_id: int = Field(foreign_key="station.id")
    packer_id: int = Field(foreign_key="app_user.id")
    scan_id: int | None = Field(default=None, foreign_key="scan.id")
    reason: str | None = Field(default=None, max_length=500)
    complaint_id: int | None = Field(default=None, foreign_key="complaint.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Override(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    parcel_id: int = _fk("parcel.id")
    user_id: int = Field(foreign_key="app_user.id")
    reason: str = Field(max_length=500)
    created_at: datetime = _created()


class Photo(SQLModel, table=True):
    """A photo of a parcel: the kept image and thumbnail by content hash, and what was seen.

    `upload_sha256` is the hash of the bytes the station sent, so that a station retrying an
    upload gets the photo it already made. `purged_at` is set when retention deleted the
    images; the row stays, so the parcel's story still says a photo was taken.
    """

    __table_args__ = (sa.UniqueConstraint("parcel_id", "upload_sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    parcel_id: int = _fk("parcel.id", index=False)  # the unique constraint indexes it
    station_id: int = Field(foreign_key="station.id")
    upload_sha256: str = Field(max_length=64)
    sha256: str = Field(max_length=64, index=True)
    thumb_sha256: str = Field(max_length=64, index=True)
    width: int
    height: int
    size_bytes: int
    sharpness: float
    brightness: float
    codes: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    foreign_skus: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EvidenceHold(SQLModel, table=True):
    """A legal hold: while it is not released, retention keeps the parcel's photos."""

    __tablename__ = "evidence_hold"

    id: int | None = Field(default=None, primary_key=True)
    parcel_id: int = _fk("parcel.id")
    user_id: int = Field(foreign_key="app_user.id")
    reason: str = Field(max_length=500)
    created_at: datetime = _created()
    released_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    released_by: int | None = Field(default=None, foreign_key="app_user.id")


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=40)
    object_type: str = Field(max_length=24)
    object_id: str = Field(max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    ip: str | None = Field(default=None, max_length=45)


class Complaint(SQLModel, table=True):
    """What a customer reported about a parcel that left, and how support resolved it.

    `kind` is missing, wrong, damaged, extra or other; a complaint on a parcel that passed QC
    adds escaped defects (Defect.complaint_id), one on a parcel released by override points at
    that override. `customer_ref` is the order's, copied so repeat claimants are one query.
    """

    id: int | None = Field(default=None, primary_key=True)
    parcel_id: int = _fk("parcel.id")
    customer_ref: str | None = Field(default=None, max_length=128, index=True)
    kind: str = Field(max_length=16)
    product_id: int | None = Field(default=None, foreign_key="product.id")
    qty: int | None = None
    note: str | None = Field(default=None, max_length=2000)
    status: str = Field(default="open", max_length=16, index=True)
    resolution: str | None = Field(default=None, max_length=16)
    resolution_note: str | None = Field(default=None, max_length=2000)
    override_id: int | None = Field(default=None, foreign_key="override.id")
    repeat_claimant: bool = False
    evidence_available: bool = False
    created_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    resolved_by: int | None = Field(default=None, foreign_key="app_user.id")
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookEndpoint(SQLModel, table=True):
    """Where events go: a URL and the secret their signatures are made with (admin-set).
    `events` lists the event types wanted; empty means all."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)
    events: list[str] = Field(default_factory=list, sa_type=JSON)
    active: bool = True
    created_at: datetime = _created()


class WebhookEvent(SQLModel, table=True):
    """The outbox: an event, written in the transaction of the change it reports."""

    __tablename__ = "webhook_event"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    type: str = Field(max_length=40, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _created()


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint: pending until delivered, retried with backoff, `dead` after
    the last attempt (an admin can replay it)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "endpoint_id"),
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="webhook_event.id")
    endpoint_id: int = _fk("webhook_endpoint.id")
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _created()
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    """One try at a delivery, kept as the log an admin reads."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = _fk("webhook_delivery.id")
    at: datetime = _created()
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int = 0


class StatMeasures(SQLModel):
    """What every statistics rollup cell counts (see qc.rollup_cells.MEASURES)."""

    parcels: int = 0
    units: int = 0
    first_pass: int = 0
    shipped: int = 0
    packing_s: int = 0
    defective: int = 0
    defects: int = 0


class StatCell(StatMeasures, table=True):
    """Closed parcels counted by the local day and UTC hour they closed, bench, packer, SKU,
    defect kind and stage: the rollup every statistic is read from.

    `sku_id` 0 is every SKU and -1 defects with no SKU (a weight mismatch); `kind` and `stage`
    '' are every kind and either stage. `parcels`, `units`, `first_pass`, `shipped` and
    `packing_s` are kept in the cells of every kind and stage; `defective` (parcels with at
    least one defect matching the cell) and `defects` (units) in the others. Maintained in the
    transaction of the event it counts (qc.rollups); `qc stats rebuild` recomputes it.
    """

    __tablename__ = "stat_cell"
    __table_args__ = (sa.Index("ix_stat_cell_lookup", "sku_id", "kind", "stage", "local_day"),)

    local_day: date = Field(primary_key=True)
    hour: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    station_id: int = Field(primary_key=True)
    packer_id: int = Field(primary_key=True)
    sku_id: int = Field(primary_key=True)
    kind: str = Field(max_length=24, primary_key=True)
    stage: str = Field(max_length=8, primary_key=True)


class StatDay(StatMeasures, table=True):
    """stat_cell's cells of every SKU summed over the hours of a local day: what the figures
    per parcel read (rates by day, week, bench, packer and kind; summary; packers). Keyed
    kind and stage first, so each kind and stage is one range of days in the primary key."""

    __tablename__ = "stat_day"
    __table_args__ = {"sqlite_with_rowid": False}

    kind: str = Field(max_length=24, primary_key=True)
    stage: str = Field(max_length=8, primary_key=True)
    local_day: date = Field(primary_key=True)
    station_id: int = Field(primary_key=True)
    packer_id: int = Field(primary_key=True)


class StatSkuDay(StatMeasures, table=True):
    """stat_cell's cells of one SKU (or -1, no SKU) summed over the benches, packers and
    hours of a local day: what views by SKU read for days at the edges of a period."""

    __tablename__ = "stat_sku_day"
    __table_args__ = (
        sa.Index("ix_stat_sku_day_sku", "sku_id", "kind", "stage", "local_day"),
        {"sqlite_with_rowid": False},
    )

    kind: str = Field(max_length=24, primary_key=True)
    stage: str = Field(max_length=8, primary_key=True)
    local_day: date = Field(primary_key=True)
    sku_id: int = Field(primary_key=True)


class StatSkuMonth(StatMeasures, table=True):
    """stat_sku_day summed over a calendar month (`month` is its first local day): what views
    by SKU read for the whole months inside a period."""

    __tablename__ = "stat_sku_month"
    __table_args__ = (
        sa.Index("ix_stat_sku_month_sku", "sku_id", "kind", "stage", "month"),
        {"sqlite_with_rowid": False},
    )

    kind: str = Field(max_length=24, primary_key=True)
    stage: str = Field(max_length=8, primary_key=True)
    month: date = Field(primary_key=True)
    sku_id: int = Field(primary_key=True)


class StatSkuTotal(StatMeasures, table=True):
    """stat_sku_month summed over all time: a period covering most of the history is read as
    the total less the months outside it, one row per SKU instead of one per SKU and month."""

    __tablename__ = "stat_sku_total"
    __table_args__ = {"sqlite_with_rowid": False}

    kind: str = Field(max_length=24, primary_key=True)
    stage: str = Field(max_length=8, primary_key=True)
    sku_id: int = Field(primary_key=True)


class StatConfusion(SQLModel, table=True):
    """Wrong items by the SKU that was expected and the SKU scanned instead, per local day."""

    __tablename__ = "stat_confusion"

    local_day: date = Field(primary_key=True)
    station_id: int = Field(primary_key=True)
    packer_id: int = Field(primary_key=True)
    expected_id: int = Field(primary_key=True)
    scanned_id: int = Field(primary_key=True)
    count: int = 0


class IdempotencyRecord(SQLModel, table=True):
    """The stored answer to a POST sent with an Idempotency-Key, replayed on a retry."""

    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("principal", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    principal: str = Field(max_length=40)
    key: str = Field(max_length=128)
    fingerprint: str = Field(max_length=64)
    status_code: int
    response: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _created()
