"""What the statistics endpoints take and give."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GroupBy = Literal["day", "week", "station", "packer", "sku", "kind"]
StageFilter = Literal["caught", "escaped", "all"]
Dimension = Literal["sku", "kind", "station", "packer"]
MAX_DAYS = 3 * 366


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> "Period":
        if self.end < self.start:
            raise ValueError("`to` is before `from`")
        if (self.end - self.start).days >= MAX_DAYS:
            raise ValueError(f"a period is at most {MAX_DAYS} days")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class Filters(BaseModel):
    """Narrow the counting to one bench, packer, SKU or defect kind (codes, names, as shown)."""

    station: str | None = None
    packer: str | None = None
    sku: str | None = None
    kind: str | None = None


class RateRow(BaseModel):
    key: str
    parcels: int
    defective_parcels: int
    defects: int
    units: int
    rate: float | None
    center: float | None
    lower: float | None
    upper: float | None
    out_of_control: bool


class DefectRate(BaseModel):
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    group_by: GroupBy
    stage: StageFilter
    rows: list[RateRow]


class Totals(BaseModel):
    parcels_closed: int
    parcels_shipped: int
    first_pass_yield: float | None
    caught_rate: float | None
    escaped_rate: float | None
    caught_share: float | None = Field(description="Defects caught before shipping, of all.")
    defects_caught: int
    defects_escaped: int


class Summary(BaseModel):
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    previous_start: date = Field(serialization_alias="previous_from")
    previous_end: date = Field(serialization_alias="previous_to")
    current: Totals
    previous: Totals


class ParetoRow(BaseModel):
    key: str
    defects: int
    share: float
    cumulative_share: float


class Pareto(BaseModel):
    dimension: Dimension
    stage: StageFilter
    rows: list[ParetoRow]


class ConfusionRow(BaseModel):
    expected_sku: str
    scanned_sku: str
    count: int


class Confusions(BaseModel):
    pairs: int  # pairs in the period; `rows` holds the most frequent of them
    rows: list[ConfusionRow]


class PackerRow(BaseModel):
    packer: str
    parcels: int
    units: int
    hours: float
    parcels_per_hour: float | None
    units_per_hour: float | None
    first_pass_yield: float | None
    defect_rate: float | None


class Packers(BaseModel):
    rows: list[PackerRow]
