"""Catalogue and order services on their own (the importer calls them without the API's checks)."""

import pytest
from sqlmodel import Session, func, select

from qc.catalogue import upsert_product
from qc.errors import Conflict, InvalidInput
from qc.models import Product
from qc.orders import upsert_order
from qc.schemas import BarcodeIn, OrderIn, OrderLineIn, ProductIn
from tests.factories import MUG, make_product


def products(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Product)).one()


def test_a_refused_new_product_writes_nothing(session: Session) -> None:
    make_product(session, sku="MUG", barcodes=[MUG])
    with pytest.raises(Conflict):
        upsert_product(
            session=session, sku="NEW", data=ProductIn(name="x", barcodes=[BarcodeIn(code=MUG)])
        )
    assert products(session) == 1


@pytest.mark.parametrize("sku", ["", "-A", "A B", "A/B", "x" * 65])
def test_the_service_checks_the_sku(session: Session, sku: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        upsert_product(session=session, sku=sku, data=ProductIn(name="x"))
    assert refused.value.code == "invalid_sku"
    assert products(session) == 0


@pytest.mark.parametrize("number", ["", "#", "x" * 65, "A\x01B"])
def test_the_service_checks_the_order_number(session: Session, number: str) -> None:
    make_product(session, sku="MUG", barcodes=[MUG])
    with pytest.raises(InvalidInput) as refused:
        upsert_order(
            session=session, number=number, data=OrderIn(lines=[OrderLineIn(sku="MUG", qty=1)])
        )
    assert refused.value.code == "invalid_order_number"
