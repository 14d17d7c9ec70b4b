"""Support's search box: one query, whatever identifier the customer read out."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.db import in_transaction
from api.deps import require
from api.errors import ERROR_RESPONSES
from qc.enums import Role
from qc.identity import Principal
from qc.lookup import look_up
from qc.lookup_schemas import LookupOut

router = APIRouter(prefix="/lookup", tags=["support"], responses=ERROR_RESPONSES)
# Those who answer customers and judge parcels; not stations, packers or admins.
LookupReaderDep = Annotated[
    Principal, Depends(require(Role.SUPPORT, Role.MANAGER, Role.SUPERVISOR))
]
Q = Annotated[
    str,
    Query(
        description="An order number, tracking number, parcel id, customer reference or SSCC "
        "(18 digits, or (00) and 18 digits); spaces, case and a leading '#' do not matter. "
        "1 to 128 characters after trimming, else 400 `invalid_query`."
    ),
]


@router.get("", response_model=LookupOut)
async def lookup(request: Request, _reader: LookupReaderDep, q: Q = "") -> Response:
    """The parcels (and orders without one) the query names, newest first, at most 50."""
    found = await in_transaction(request, lambda session: look_up(session=session, q=q))
    return Response(found.model_dump_json(), media_type="application/json")
