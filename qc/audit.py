"""The audit log: who did what to which object, and when."""

from typing import Any

from sqlmodel import Session

from qc.models import AuditEvent


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
