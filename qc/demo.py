"""A demo warehouse: a catalogue with every kind of product, open orders, a bench and users."""

from sqlmodel import Session, func, select

from qc.catalogue import upsert_product
from qc.enums import Role
from qc.identity import add_station, add_user
from qc.models import Product
from qc.orders import upsert_order
from qc.schemas import OrderIn, OrderLineIn, ProductIn

PRODUCTS: list[tuple[str, dict[str, object]]] = [
    (
        "MUG-BLUE",
        {"name": "Blue enamel mug", "weight_g": 350, "barcodes": [{"code": "4006381333931"}]},
    ),
    (
        "SOCKS-M",
        {
            "name": "Wool socks, size M (US label)",
            "weight_g": 80,
            "barcodes": [{"code": "036000291452"}],
        },
    ),
    (
        "CABLE-USB",
        {
            "name": "USB-C cable 1 m",
            "weight_g": 40,
            "barcodes": [{"code": "96385074"}, {"code": "10012345678902", "pack_qty": 6}],
        },
    ),
    (
        "TEA-GREEN",
        {
            "name": "Green tea 100 g (lot tracked)",
            "weight_g": 120,
            "tracks_lot": True,
            "barcodes": [{"code": "09506000134352"}],
        },
    ),
    (
        "PHONE-X1",
        {
            "name": "Phone X1 (serial tracked)",
            "weight_g": 210,
            "requires_serial": True,
            "barcodes": [{"code": "5012345678900"}],
        },
    ),
    (
        "BIN-BODY",
        {
            "name": "Storage bin 20 l, body",
            "weight_g": 900,
            "barcodes": [{"code": "4000000000006"}],
        },
    ),
    (
        "BIN-LID",
        {"name": "Storage bin 20 l, lid", "weight_g": 300, "barcodes": [{"code": "4000000000013"}]},
    ),
    (
        "BIN-20L",
        {
            "name": "Storage bin 20 l (kit: body + lid)",
            "components": [{"sku": "BIN-BODY", "qty": 1}, {"sku": "BIN-LID", "qty": 1}],
        },
    ),
    (
        "GIFT-WRAP",
        {"name": "Gift wrap (internal code)", "weight_g": 30, "barcodes": [{"code": "INT-GW-01"}]},
    ),
]

ORDERS: list[tuple[str, str, list[tuple[str, int]]]] = [
    ("DEMO-1001", "alice@example.com", [("MUG-BLUE", 2), ("CABLE-USB", 1)]),
    ("DEMO-1002", "bob@example.com", [("BIN-20L", 1), ("TEA-GREEN", 1)]),
    ("DEMO-1003", "carol@example.com", [("PHONE-X1", 1), ("SOCKS-M", 2), ("GIFT-WRAP", 1)]),
    ("DEMO-1004", "dave@example.com", [("CABLE-USB", 6)]),
    ("DEMO-1005", "alice@example.com", [("MUG-BLUE", 1), ("SOCKS-M", 1)]),
]

USERS: list[tuple[str, Role, str | None]] = [
    ("Pat Packer", Role.PACKER, "P-001"),
    ("Sam Supervisor", Role.SUPERVISOR, "S-001"),
    ("Mia Manager", Role.MANAGER, None),
    ("Sue Support", Role.SUPPORT, None),
    ("Ada Admin", Role.ADMIN, None),
]

STATION = "BENCH-1"


def is_empty(session: Session) -> bool:
    return session.exec(select(func.count()).select_from(Product)).one() == 0


def load_demo(session: Session) -> dict[str, str]:
    """Load the demo warehouse into the session's transaction.

    Returns:
        The new keys by who holds them ("station BENCH-1", "admin Ada Admin", …).
    """
    for sku, data in PRODUCTS:
        upsert_product(session=session, sku=sku, data=ProductIn.model_validate(data))
    for number, customer, lines in ORDERS:
        order = OrderIn(customer_ref=customer, lines=[OrderLineIn(sku=s, qty=q) for s, q in lines])
        upsert_order(session=session, number=number, data=order)
    keys = {f"station {STATION}": add_station(session=session, code=STATION, actor="demo")[1]}
    for name, role, badge in USERS:
        label = f"{role.value} {name}" + (f" (badge {badge})" if badge else "")
        keys[label] = add_user(session=session, name=name, role=role, badge=badge, actor="demo")[1]
    return keys
