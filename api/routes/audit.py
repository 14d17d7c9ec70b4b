"""The audit log for admins: who viewed, downloaded, shared, released or changed what, when,
and from where."""

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from api.deps import AdminDep, SessionDep, warehouse_zone
from api.errors import ERROR_RESPONSES
from qc.audit import AuditPage, find_events
from qc.errors import InvalidInput

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)
ZONE_NOTE = "ISO 8601; a time without a zone is the warehouse's local time."


def _utc(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    if moment is None:
        return None
    try:
        return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)
    except OverflowError:  # a time at the very edge of the calendar, shifted past it
        raise InvalidInput(f"the time {moment} is out of range", code="invalid_time") from None


@router.get("/audit", response_model=AuditPage)
def audit_log(
    session: SessionDep,
    admin: AdminDep,
    actor: Annotated[str | None, Query(min_length=1, max_length=120)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    object_type: Annotated[str | None, Query(min_length=1, max_length=24)] = None,
    object_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    start: Annotated[
        datetime | None, Query(alias="from", description=f"At or after this time. {ZONE_NOTE}")
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description=f"Before this time. {ZONE_NOTE}")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="The previous page's next_before.")
    ] = None,
) -> AuditPage:
    """Audit events, newest first, filtered by exact actor, action and object; pages by id:
    pass `next_before` as `before` for the next page (null on the last)."""
    zone = warehouse_zone()
    return find_events(session=session, actor=actor, action=action, object_type=object_type,
                       object_id=object_id, since=_utc(start, zone), until=_utc(end, zone),
                       before=before, limit=limit)  # fmt: skip
