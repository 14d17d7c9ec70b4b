"""Typed dependencies: the session, the caller and their role, settings-derived policies.

Cheap dependencies are `async def`: FastAPI runs a plain `def` dependency in the threadpool,
and every such hop costs GIL hand-overs and event-loop turns. Only what touches the
database runs in a thread.
"""

import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from api.db import SessionFactory, get_session
from api.settings import get_settings
from qc.enums import Role
from qc.errors import Forbidden, Unauthorized
from qc.identity import Principal, authenticate, hash_key
from qc.verification import WeightPolicy

API_PREFIX = "/api/v1"
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


_bearer = HTTPBearer(auto_error=False, description="A station key or a user key: `Bearer qc_…`")


class KeyCache:
    """Keys checked in the last few seconds, so that most requests skip the key lookup.

    A revoked key therefore keeps working for at most `ttl` seconds in a process that saw it.
    Only keys that were valid are kept, under their hash, and never more than `size` of them.
    """

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(hash_key(key))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, principal: Principal) -> None:
        if not self.ttl:
            return
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[hash_key(key)] = (time.monotonic() + self.ttl, principal)


def _look_up(sessions: SessionFactory, key: str) -> Principal:
    """A key's owner, read in a short session of its own: not the request's (write) one."""
    with sessions(False) as session:
        return authenticate(session=session, key=key)


CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_principal(request: Request, credentials: CredentialsDep) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("send a key as `Authorization: Bearer <key>`", code="missing_key")
    cache: KeyCache = request.app.state.key_cache
    principal = cache.get(credentials.credentials)
    if principal is None:
        principal = await run_in_threadpool(
            _look_up, request.app.state.sessions, credentials.credentials
        )
        cache.put(credentials.credentials, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_station(principal: PrincipalDep) -> Principal:
    if principal.kind != "station":
        raise Forbidden("only a packing station's key may do this", code="station_only")
    return principal


StationDep = Annotated[Principal, Depends(get_station)]


def require(*roles: Role, station: bool = False) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through users with one of `roles` (and stations, if `station`)."""
    names = ", ".join(r.value for r in roles)

    async def check(principal: PrincipalDep) -> Principal:
        if principal.kind == "station" and station:
            return principal
        if principal.role not in roles:
            raise Forbidden(f"this needs one of the roles: {names}", code="role_required")
        return principal

    return check


AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]
SupervisorDep = Annotated[Principal, Depends(require(Role.SUPERVISOR))]
CatalogueReaderDep = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.MANAGER, Role.SUPPORT, Role.SUPERVISOR))
]
ParcelReaderDep = Annotated[
    Principal, Depends(require(Role.SUPPORT, Role.SUPERVISOR, Role.MANAGER, station=True))
]
# Photos may show customers' addresses: the roles that judge parcels and complaints see them.
PHOTO_VIEWERS = (Role.SUPPORT, Role.MANAGER, Role.SUPERVISOR)
EvidenceKeeperDep = Annotated[Principal, Depends(require(Role.SUPPORT, Role.MANAGER))]
ManagerDep = Annotated[Principal, Depends(require(Role.MANAGER))]


# The two below read settings directly rather than through a dependency of their own: each
# level of dependencies costs every request its solving, and these sit on the scan path.
async def get_weight_policy() -> WeightPolicy:
    settings = get_settings()
    return WeightPolicy(
        tare_g=settings.packaging_tare_g,
        tolerance_pct=settings.weight_tolerance_pct,
        tolerance_min_g=settings.weight_tolerance_min_g,
    )


WeightPolicyDep = Annotated[WeightPolicy, Depends(get_weight_policy)]


async def get_today() -> date:
    """The warehouse's date: what an expiry date is compared with."""
    return datetime.now(ZoneInfo(get_settings().timezone)).date()


TodayDep = Annotated[date, Depends(get_today)]


def warehouse_zone() -> ZoneInfo:
    """The warehouse's time zone: statistics count its local days."""
    return ZoneInfo(get_settings().timezone)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
