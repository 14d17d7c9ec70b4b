"""Which rollup cells a closed parcel counts in, and by how much. Pure: facts in, increments out.

A cell is (SKU, kind, stage) within the parcel's close hour, bench and packer. SKU 0 is every
SKU, -1 a defect with no SKU; kind '' is every kind; stage '' is either stage. Counting a parcel
once in every cell it belongs to, marginals included, is what keeps distinct counts exact: a
parcel with two wrong items of one SKU is one defective parcel for that SKU, for wrong items,
for the SKU's wrong items, and overall; summing cells of different benches or hours never
counts a parcel twice, because a parcel has one bench, one packer and one close hour.

Everything a parcel contributes is a function of its facts, so an event that adds facts (a
complaint's escaped defects, the shipment) is counted as the difference between the cells
after and before: `delta(cells(after), cells(before))`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ALL_SKUS, NO_SKU = 0, -1
MEASURES = ("parcels", "units", "first_pass", "shipped", "packing_s", "defective", "defects")

CellKey = tuple[int, str, str]  # (sku_id, kind, stage)
Counts = dict[str, int]


@dataclass(frozen=True)
class DefectFact:
    product_id: int | None
    kind: str
    stage: str
    qty: int


@dataclass(frozen=True)
class ParcelFacts:
    """A closed parcel as the statistics see it."""

    units: Mapping[int, int]  # product id -> good units packed
    first_pass: bool  # passed at closing with no caught defect
    packing_s: int  # from opening to closing
    shipped: bool = False
    defects: tuple[DefectFact, ...] = field(default_factory=tuple)


def cells(parcel: ParcelFacts) -> dict[CellKey, Counts]:
    """Every cell the parcel counts in, with what it adds there (zero measures left out)."""
    out: dict[CellKey, Counts] = {}

    def add(key: CellKey, **counts: int) -> None:
        cell = out.setdefault(key, {})
        for name, value in counts.items():
            if value:
                cell[name] = cell.get(name, 0) + value

    add((ALL_SKUS, "", ""), parcels=1, units=sum(parcel.units.values()),
        first_pass=int(parcel.first_pass), shipped=int(parcel.shipped),
        packing_s=parcel.packing_s)  # fmt: skip
    for product_id, units in parcel.units.items():
        add((product_id, "", ""), parcels=1, units=units)
    defective: set[CellKey] = set()
    for d in parcel.defects:
        sku = d.product_id if d.product_id is not None else NO_SKU
        for key in _defect_keys(sku, d.kind, d.stage):
            add(key, defects=d.qty)
            defective.add(key)
    for key in defective:
        add(key, defective=1)
    return {key: counts for key, counts in out.items() if counts}


def _defect_keys(sku: int, kind: str, stage: str) -> Iterable[CellKey]:
    for s in (ALL_SKUS, sku):
        for k in ("", kind):
            for st in ("", stage):
                yield (s, k, st)


def delta(
    after: Mapping[CellKey, Counts], before: Mapping[CellKey, Counts]
) -> dict[CellKey, Counts]:
    """What changes between two countings of one parcel (after minus before), zeros left out."""
    out: dict[CellKey, Counts] = {}
    for key in after.keys() | before.keys():
        new, old = after.get(key, {}), before.get(key, {})
        diff = {m: new.get(m, 0) - old.get(m, 0) for m in MEASURES}
        diff = {m: v for m, v in diff.items() if v}
        if diff:
            out[key] = diff
    return out


def confusions(defects: Iterable[tuple[int | None, int | None]]) -> dict[tuple[int, int], int]:
    """Wrong items as (expected product, scanned product) -> count, where both are known."""
    out: dict[tuple[int, int], int] = {}
    for expected, scanned in defects:
        if expected is not None and scanned is not None:
            out[(expected, scanned)] = out.get((expected, scanned), 0) + 1
    return out
