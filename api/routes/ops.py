"""Operations: health for load balancers, and who-am-I for clients checking their key."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.db import in_transaction
from api.deps import PrincipalDep
from api.errors import ERROR_RESPONSES

router = APIRouter(tags=["operations"])
_PING = text("SELECT 1")


class Health(BaseModel):
    status: str
    database: str


class Me(BaseModel):
    kind: str
    name: str
    role: str | None


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> JSONResponse:
    """200 when the database answers, 503 when it does not."""
    try:
        await in_transaction(request, lambda session: session.connection().execute(_PING).all())
    except SQLAlchemyError:
        return JSONResponse(Health(status="degraded", database="unreachable").model_dump(), 503)
    return JSONResponse(Health(status="ok", database="ok").model_dump())


me_router = APIRouter(tags=["operations"], responses=ERROR_RESPONSES)


@me_router.get("/me", response_model=Me)
def me(principal: PrincipalDep) -> Me:
    """Who this key belongs to."""
    return Me(kind=principal.kind, name=principal.name, role=principal.role)
