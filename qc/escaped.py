"""Defects found after shipping (what a complaint reports): recorded on the parcel as escaped,
and counted in the statistics against the packing they are about."""

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session

from qc.catalogue import product_ref, products_by_sku
from qc.enums import DefectKind, Stage
from qc.errors import Conflict, NotFound
from qc.parcel_state import add_defect, lock_parcel
from qc.rollups import counted


@dataclass(frozen=True)
class Escaped:
    kind: DefectKind
    sku: str | None = None
    qty: int = 1


def record_escaped(
    *,
    session: Session,
    parcel_id: int,
    defects: list[Escaped],
    reason: str | None,
    zone: ZoneInfo,
) -> None:
    """Add escaped defects to a closed parcel, in the statistics of the day it was closed.

    Raises:
        NotFound: no such parcel, or a SKU the catalogue does not know.
        Conflict: the parcel was never closed (nothing left the bench).
    """
    parcel = lock_parcel(session, parcel_id)
    if parcel.closed_at is None:
        raise Conflict(f"parcel {parcel_id} was never closed", code="parcel_not_closed")
    products = products_by_sku(session, {d.sku for d in defects if d.sku})
    missing = sorted({d.sku for d in defects if d.sku} - products.keys())
    if missing:
        raise NotFound(f"unknown SKU(s): {', '.join(missing)}", code="product_not_found")
    with counted(session, parcel_id, zone):
        for d in defects:
            product = product_ref(products[d.sku]) if d.sku else None
            add_defect(session, parcel, d.kind, product=product, qty=d.qty, reason=reason,
                       stage=Stage.ESCAPED)  # fmt: skip
