"""Products, their barcodes and kits; and reading a scanned code back to a product."""

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam
from sqlmodel import Session, col, delete, select

from qc.barcodes import ScannedCode, normalize_catalogue_code
from qc.errors import Conflict, InvalidInput, NotFound
from qc.models import Barcode, KitComponent, Product, utcnow
from qc.schemas import SKU_PATTERN, BarcodeOut, ComponentOut, ProductIn, ProductOut


def get_product(session: Session, sku: str) -> Product:
    product = session.exec(select(Product).where(Product.sku == sku)).first()
    if product is None:
        raise NotFound(f"no product with SKU {sku}", code="product_not_found")
    return product


def products_by_sku(session: Session, skus: set[str]) -> dict[str, Product]:
    """The products among `skus`; the caller decides what a missing one means."""
    if not skus:
        return {}
    found = session.exec(select(Product).where(col(Product.sku).in_(skus))).all()
    return {p.sku: p for p in found}


def _normalized_barcodes(data: ProductIn) -> dict[str, int]:
    codes: dict[str, int] = {}
    for barcode in data.barcodes:
        code = normalize_catalogue_code(barcode.code, symbology=barcode.symbology)
        if code in codes:
            raise InvalidInput(f"barcode {barcode.code} is listed twice", code="duplicate_barcode")
        if data.requires_serial and barcode.pack_qty != 1:
            raise InvalidInput(
                "a serial-tracked product is scanned unit by unit: its barcodes have pack_qty 1",
                code="serial_case_pack",
            )
        codes[code] = barcode.pack_qty
    return codes


def _check_components(session: Session, sku: str, data: ProductIn) -> dict[int, int]:
    wanted: dict[str, int] = {}
    for component in data.components:
        wanted[component.sku] = wanted.get(component.sku, 0) + component.qty
    if sku in wanted:
        raise InvalidInput(f"kit {sku} cannot contain itself", code="invalid_kit")
    found = products_by_sku(session, set(wanted))
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise InvalidInput(f"unknown component SKU(s): {', '.join(missing)}", code="unknown_sku")
    nested = sorted(s for s, p in found.items() if p.is_kit)
    if nested:
        raise InvalidInput(
            f"components cannot be kits themselves: {', '.join(nested)}", code="nested_kit"
        )
    if data.barcodes:
        raise InvalidInput(
            "a kit is packed by scanning its components, so it carries no barcode of its own",
            code="kit_barcode",
        )
    return {found[s].id: qty for s, qty in wanted.items()}  # type: ignore[misc]


def _check_barcodes_free(session: Session, codes: dict[str, int], sku: str) -> None:
    taken = session.exec(
        select(Barcode.code, Product.sku)
        .join(Product, col(Barcode.product_id) == Product.id)
        .where(col(Barcode.code).in_(codes), Product.sku != sku)
    ).first()
    if taken is not None:
        raise Conflict(f"barcode {taken[0]} belongs to {taken[1]}", code="barcode_taken")


def upsert_product(*, session: Session, sku: str, data: ProductIn) -> tuple[Product, bool]:
    """Create or replace a product, its barcodes and (for a kit) its components.

    Every rule is checked before anything is written.

    Returns:
        The product and whether it was created.

    Raises:
        InvalidBarcode: a barcode is malformed.
        InvalidInput: the SKU is malformed, or a rule of the catalogue is broken (kit of kits,
            unknown component…).
        Conflict: a barcode belongs to another product, or a kit's part would become a kit.
    """
    if not re.fullmatch(SKU_PATTERN, sku):
        raise InvalidInput(
            f"SKU {sku[:70]!r} is not 1–64 letters, digits, '.', '_' or '-'", code="invalid_sku"
        )
    codes = _normalized_barcodes(data)
    components = _check_components(session, sku, data) if data.components else {}
    _check_barcodes_free(session, codes, sku)
    product = session.exec(select(Product).where(Product.sku == sku)).first()
    created = product is None
    if product is None:
        product = Product(sku=sku, name=data.name)
    else:
        part_of_kit = session.exec(
            select(KitComponent).where(KitComponent.component_id == product.id)
        )
        if components and part_of_kit.first():
            raise Conflict(
                f"{sku} is a component of a kit and cannot become a kit", code="nested_kit"
            )
        session.exec(delete(Barcode).where(col(Barcode.product_id) == product.id))
        session.exec(delete(KitComponent).where(col(KitComponent.kit_id) == product.id))
    product.name, product.weight_g = data.name, data.weight_g
    product.requires_serial, product.tracks_lot = data.requires_serial, data.tracks_lot
    product.is_kit, product.updated_at = bool(components), utcnow()
    session.add(product)
    session.flush()
    assert product.id is not None
    session.add_all(Barcode(code=c, product_id=product.id, pack_qty=q) for c, q in codes.items())
    session.add_all(
        KitComponent(kit_id=product.id, component_id=c, qty=q) for c, q in components.items()
    )
    session.flush()
    return product, created


def product_out(session: Session, product: Product) -> ProductOut:
    barcodes = session.exec(
        select(Barcode).where(Barcode.product_id == product.id).order_by(col(Barcode.id))
    )
    components = session.exec(
        select(Product.sku, KitComponent.qty)
        .join(KitComponent, col(KitComponent.component_id) == Product.id)
        .where(KitComponent.kit_id == product.id)
        .order_by(col(Product.sku))
    )
    return ProductOut(
        **product.model_dump(exclude={"id", "created_at"}),
        barcodes=[BarcodeOut(code=b.code, pack_qty=b.pack_qty) for b in barcodes],
        components=[ComponentOut(sku=sku, qty=qty) for sku, qty in components],
    )


@dataclass(frozen=True)
class ProductRef:
    """A product as packing needs it: read as a plain row on the scan path."""

    id: int
    sku: str
    name: str
    weight_g: int | None
    requires_serial: bool


PRODUCT_COLUMNS = (
    col(Product.id),
    col(Product.sku),
    col(Product.name),
    col(Product.weight_g),
    col(Product.requires_serial),
)


def product_ref(row: Any) -> ProductRef:
    """A `ProductRef` from a row that holds PRODUCT_COLUMNS under their names."""
    return ProductRef(row.id, row.sku, row.name, row.weight_g, row.requires_serial)


# Built once: the scan path runs these on every scan.
_BY_CODES = (
    sa.select(*PRODUCT_COLUMNS, col(Barcode.pack_qty), col(Barcode.code))
    .join(Barcode, col(Barcode.product_id) == Product.id)
    .where(col(Barcode.code).in_(bindparam("codes", expanding=True)))
)
_BY_SKU = sa.select(*PRODUCT_COLUMNS).where(
    col(Product.sku) == bindparam("sku"), col(Product.is_kit).is_(False)
)


def resolve_code(
    session: Session, code: ScannedCode, *, by_sku: bool = False
) -> tuple[ProductRef, int] | None:
    """The product a scanned code stands for and how many units it counts, or None.

    GS1 codes are looked up by every GTIN reading; others as typed. A code typed in by hand
    (`by_sku`) may also be the SKU itself.
    """
    keys = code.lookup_keys
    if not keys:
        return None
    connection = session.connection()
    rows = connection.execute(_BY_CODES, {"codes": list(keys)}).all()
    if rows:
        best = min(rows, key=lambda row: keys.index(row.code))
        return product_ref(best), best.pack_qty
    if by_sku:
        typed = connection.execute(_BY_SKU, {"sku": code.text}).first()
        if typed is not None:
            return product_ref(typed), 1
    return None
