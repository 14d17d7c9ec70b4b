"""Factories: plain functions with keyword arguments that build rows through the services."""

from dataclasses import dataclass, field

from sqlmodel import Session

from qc.catalogue import upsert_product
from qc.enums import Role
from qc.identity import add_station, add_user
from qc.models import Order, Product
from qc.orders import upsert_order
from qc.schemas import BarcodeIn, ComponentIn, OrderIn, OrderLineIn, ProductIn


def make_product(
    session: Session,
    *,
    sku: str,
    barcodes: list[str | tuple[str, int]] | None = None,
    weight_g: int | None = 100,
    components: list[tuple[str, int]] | None = None,
    requires_serial: bool = False,
    tracks_lot: bool = False,
    name: str | None = None,
) -> Product:
    codes = [b if isinstance(b, tuple) else (b, 1) for b in (barcodes or [])]
    data = ProductIn(
        name=name or f"Product {sku}",
        weight_g=weight_g,
        barcodes=[BarcodeIn(code=c, pack_qty=q) for c, q in codes],
        components=[ComponentIn(sku=s, qty=q) for s, q in (components or [])],
        requires_serial=requires_serial,
        tracks_lot=tracks_lot,
    )
    product, _ = upsert_product(session=session, sku=sku, data=data)
    return product


def make_order(
    session: Session, *, number: str, lines: list[tuple[str, int]], customer_ref: str | None = None
) -> Order:
    data = OrderIn(customer_ref=customer_ref, lines=[OrderLineIn(sku=s, qty=q) for s, q in lines])
    order, _ = upsert_order(session=session, number=number, data=data)
    return order


def make_station(session: Session, *, code: str = "BENCH-1") -> str:
    return add_station(session=session, code=code)[1]


def make_user(session: Session, *, name: str, role: Role, badge: str | None = None) -> str:
    return add_user(session=session, name=name, role=role, badge=badge)[1]


# Real GTINs with valid check digits, used across the tests.
MUG = "4006381333931"
MUG_UPC = "036000291452"
TEA = "09506000134352"
CABLE = "96385074"
CABLE_CASE = "10012345678902"
PHONE = "5012345678900"
BODY = "4000000000006"
LID = "4000000000013"


@dataclass
class World:
    """A small warehouse: a catalogue, two stations, one user per role, one open order."""

    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def make_world(session: Session) -> World:
    world = World()
    make_product(session, sku="MUG", barcodes=[MUG, MUG_UPC], weight_g=350)
    make_product(session, sku="TEA", barcodes=[TEA], weight_g=120, tracks_lot=True)
    make_product(session, sku="CABLE", barcodes=[CABLE, (CABLE_CASE, 6)], weight_g=40)
    make_product(session, sku="PHONE", barcodes=[PHONE], weight_g=200, requires_serial=True)
    make_product(session, sku="BODY", barcodes=[BODY], weight_g=900)
    make_product(session, sku="LID", barcodes=[LID], weight_g=300)
    make_product(session, sku="BIN", components=[("BODY", 1), ("LID", 1)], weight_g=None)
    make_order(session, number="1001", lines=[("MUG", 2), ("CABLE", 1)], customer_ref="CUST-7")
    make_order(session, number="1002", lines=[("BIN", 1), ("PHONE", 1), ("TEA", 1)])
    world.keys["station"] = make_station(session, code="BENCH-1")
    world.keys["station2"] = make_station(session, code="BENCH-2")
    for role in Role:
        badge = "P-001" if role is Role.PACKER else None
        world.keys[role.value] = make_user(
            session, name=f"{role.value}-user", role=role, badge=badge
        )
    session.flush()
    return world
