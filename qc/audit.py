"""The audit log: who did what to which object, and when; and reading it back for admins."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from qc.errors import InvalidInput
from qc.models import AuditEvent


class AuditRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: dict[str, Any]
    ip: str | None


class AuditPage(BaseModel):
    rows: list[AuditRow]
    next_before: int | None = None


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Add an audit event to the caller's transaction: it commits or rolls back with the change."""
    event = AuditEvent(
        actor=actor[:120],
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail or {},
        ip=ip,
    )
    session.add(event)
    return event


def find_events(
    *,
    session: Session,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = 100,
) -> AuditPage:
    """One page of the audit log, newest first; each filter given must match exactly.

    Pages are cut by id rather than by offset: events keep arriving, and an offset would
    shift under the reader, showing some twice and skipping others.

    Args:
        session: the caller's session.
        actor, action, object_type, object_id: exact values to match.
        since: events at or after this (timezone-aware) time.
        until: events before this (timezone-aware) time.
        before: only events with an id below this: the `next_before` of the previous page.
        limit: at most this many rows.

    Returns:
        The rows, and the `before` that reads the next page (None on the last page).

    Raises:
        InvalidInput: a time is naive, `until` is not after `since`, or the limit is below 1.
    """
    if limit < 1:
        raise InvalidInput("the limit must be at least 1", code="invalid_limit")
    if any(t is not None and t.utcoffset() is None for t in (since, until)):
        raise InvalidInput("a time without a time zone is ambiguous", code="invalid_time")
    if since is not None and until is not None and until <= since:
        raise InvalidInput("`to` must be later than `from`", code="invalid_period")
    query = select(AuditEvent)
    for column, value in (
        (AuditEvent.actor, actor),
        (AuditEvent.action, action),
        (AuditEvent.object_type, object_type),
        (AuditEvent.object_id, object_id),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    if until is not None:
        query = query.where(col(AuditEvent.at) < until)
    if before is not None:
        query = query.where(col(AuditEvent.id) < before)
    # One row more than asked says whether another page follows.
    events = session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit + 1)).all()
    rows = [AuditRow.model_validate(e) for e in events[:limit]]
    return AuditPage(rows=rows, next_before=rows[-1].id if len(events) > limit else None)
