"""What a bench needs to go on answering scans while the server is away: a parcel's counts,
and the barcodes of the products it expects, for the pure verification module to work with."""

from sqlmodel import Session, col, select

from qc.enums import ParcelStatus
from qc.errors import Forbidden
from qc.identity import Principal
from qc.models import Barcode, Product
from qc.parcel_state import find_parcel, load, parcel_out
from qc.schemas import PackData, PackDataBarcode, PackDataLine


def pack_data(*, session: Session, parcel_id: int, station: Principal) -> PackData:
    """The station's own parcel as the pure verification module sees it, with its barcodes.

    Raises:
        NotFound, Forbidden: no such parcel, or another station's.
    """
    parcel = find_parcel(session, parcel_id)
    if parcel.station_id != station.id:
        raise Forbidden(f"parcel {parcel_id} belongs to another station", code="not_your_parcel")
    loaded = load(session, parcel)
    ids = [p.id for p in loaded.products.values()]
    rows = session.exec(
        select(Barcode.code, Barcode.pack_qty, Product.sku, Product.requires_serial)
        .join(Product, col(Barcode.product_id) == Product.id)
        .where(col(Product.id).in_(ids))
        .order_by(col(Barcode.code))
    ).all()
    state = loaded.state
    return PackData(
        parcel=parcel_out(session, parcel, loaded),
        packing=parcel.status == ParcelStatus.PACKING,
        lines=[
            PackDataLine(
                sku=ln.sku,
                expected=ln.expected,
                kit_qty=ln.kit_qty,
                accepted=ln.accepted,
                damaged=ln.damaged,
                short=ln.short,
                weight_g=ln.weight_g,
            )
            for ln in state.lines
        ],
        pending_serial=state.pending_serial,
        barcodes=[
            PackDataBarcode(code=code, pack_qty=qty, sku=sku, requires_serial=serial)
            for code, qty, sku, serial in rows
        ],
    )
