"""Products and orders, pushed in by the shop or WMS. Writes run in one worker thread."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from sqlmodel import Session

from api.db import in_transaction
from api.deps import AdminDep, CatalogueReaderDep, SessionDep
from api.errors import ERROR_RESPONSES
from qc import catalogue, orders
from qc.schemas import SKU_PATTERN, OrderIn, OrderOut, ProductIn, ProductOut

router = APIRouter(tags=["catalogue"], responses=ERROR_RESPONSES)

SkuPath = Annotated[str, Path(pattern=SKU_PATTERN, description="Letters, digits, `.`, `_`, `-`.")]
NumberPath = Annotated[str, Path(min_length=1, max_length=64)]


@router.put(
    "/products/{sku}",
    response_model=ProductOut,
    responses={201: {"model": ProductOut, "description": "Created"}},
)
async def put_product(
    sku: SkuPath, data: ProductIn, request: Request, _: AdminDep, response: Response
) -> ProductOut:
    """Create (201) or replace (200) a product with its barcodes, or a kit with its components."""

    def work(session: Session) -> tuple[bool, ProductOut]:
        product, created = catalogue.upsert_product(session=session, sku=sku, data=data)
        return created, catalogue.product_out(session, product)

    created, product = await in_transaction(request, work)
    response.status_code = 201 if created else 200
    return product


@router.get("/products/{sku}", response_model=ProductOut)
def get_product(sku: SkuPath, session: SessionDep, _: CatalogueReaderDep) -> ProductOut:
    return catalogue.product_out(session, catalogue.get_product(session, sku))


@router.put(
    "/orders/{number}",
    response_model=OrderOut,
    responses={201: {"model": OrderOut, "description": "Created"}},
)
async def put_order(
    number: NumberPath, data: OrderIn, request: Request, _: AdminDep, response: Response
) -> OrderOut:
    """Create (201) or replace (200) an order; 409 once packing has started."""

    def work(session: Session) -> tuple[bool, OrderOut]:
        order, created = orders.upsert_order(session=session, number=number, data=data)
        return created, orders.order_out(session, order)

    created, order = await in_transaction(request, work)
    response.status_code = 201 if created else 200
    return order


@router.get("/orders/{number}", response_model=OrderOut)
def get_order(number: NumberPath, session: SessionDep, _: CatalogueReaderDep) -> OrderOut:
    return orders.order_out(session, orders.find_order(session, number))
