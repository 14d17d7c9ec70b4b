"""Sending the outbox: signed POSTs, claimed with a lease, retried with backoff, every try logged.

Any number of deliverers (a thread in each server process, `qc webhooks deliver`) may share one
database. A delivery is claimed by a conditional UPDATE that only one of them can win: it sets
a lease only where the delivery is still pending, due and not leased by someone else. The HTTP
call runs outside any transaction, so no lock waits on a slow receiver; its outcome is written
only while the lease is still ours (an admin's replay or an expired lease takes it away).

Delivery is at least once: a deliverer that dies after the receiver answered and before the
outcome is written sends again when its lease runs out. Receivers deduplicate on the event id.
"""

import hashlib
import hmac
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from qc.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from qc.webhooks import envelope

MAX_ATTEMPTS = 10
FIRST_DELAY_S = 30.0
MAX_DELAY_S = 3600.0
JITTER = 0.1
TIMEOUT_S = 5.0
# Longer than the slowest request the timeout allows (connect, send and answer: 5 s each).
LEASE = timedelta(seconds=60)
BATCH = 50
USER_AGENT = "packing-qc-webhooks/1"

Sessions = Callable[[bool], Session]
"""Opens a session; True for one that writes (on SQLite it takes the write lock up front)."""
Clock = Callable[[], datetime]

log = logging.getLogger("qc.webhooks")
_STAMP = re.compile(r"[0-9]{1,12}")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `QC-Signature` header: `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, *, now: int | None = None, tolerance_s: int = 300
) -> bool:
    """Whether `header` signs `body` with `secret` (and, given `now`, is at most `tolerance_s`
    seconds away from it, so that a captured request cannot be replayed days later)."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not _STAMP.fullmatch(stamps[0]):
        return False
    timestamp = int(stamps[0])
    if now is not None and abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).partition(",v1=")[2].encode()
    return any(hmac.compare_digest(expected, v.encode()) for v in fields.get("v1", []))


def backoff_seconds(attempt: int, *, jitter: float = 0.0) -> float:
    """How long to wait after failed attempt number `attempt` (1 for the first).

    30 s · 2^(attempt - 1), capped at an hour, then stretched by `jitter` (a fraction within
    ±10 %) so that the senders of a receiver that comes back up do not all call at once.

    Raises:
        ValueError: `attempt` below 1, or `jitter` outside ±10 %.
    """
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    if not -JITTER <= jitter <= JITTER:
        raise ValueError(f"jitter must be within ±{JITTER:.0%}")
    base = MAX_DELAY_S if attempt > 12 else min(FIRST_DELAY_S * 2 ** (attempt - 1), MAX_DELAY_S)
    return base * (1 + jitter)


@dataclass(frozen=True)
class Outcome:
    """What one try got: the HTTP status, or the error that kept it from getting one."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Claimed:
    """A delivery this deliverer holds the lease of, with what it takes to send it (plain
    values: it outlives the session it was read in)."""

    delivery_id: int
    lease_until: datetime
    attempts: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes


@dataclass
class Run:
    """What a pass of the deliverer did."""

    attempts: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0


def body_of(event: WebhookEvent) -> bytes:
    """The exact bytes POSTed (and signed) for an event."""
    return json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode()


def _describe(exc: Exception) -> str:
    text = str(exc)
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:500]


def post(client: httpx.Client, claimed: Claimed, timestamp: int) -> Outcome:
    """POST the event, signed at `timestamp`; only the status line is read, never the body."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "QC-Event-Id": claimed.event_id,
        "QC-Event-Type": claimed.event_type,
        "QC-Timestamp": str(timestamp),
        "QC-Signature": sign(claimed.secret, timestamp, claimed.body),
    }
    started = time.monotonic()
    try:
        with client.stream("POST", claimed.url, content=claimed.body, headers=headers) as response:
            code = response.status_code
    except Exception as exc:  # whatever keeps an answer away is a failed try, retried later
        return Outcome(None, _describe(exc), round((time.monotonic() - started) * 1000))
    duration = round((time.monotonic() - started) * 1000)
    return Outcome(code, None if 200 <= code < 300 else f"HTTP {code}", duration)


def _due(now: datetime) -> Any:
    return (
        col(WebhookDelivery.status) == "pending",
        col(WebhookDelivery.next_attempt_at) <= now,
        or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
    )


def due_ids(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Deliveries due at `now` and leased by no one, oldest due first."""
    query = (
        select(WebhookDelivery.id)
        .where(*_due(now))
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(limit)
    )
    return [i for i in session.exec(query).all() if i is not None]


def claim(
    session: Session, delivery_id: int, now: datetime, lease: timedelta = LEASE
) -> Claimed | None:
    """Take the lease of a due delivery; None when another deliverer has it or it is not due.

    A delivery whose endpoint was deactivated is marked dead instead (an admin can replay it
    once the endpoint is active again), and None is returned.
    """
    until = now + lease
    taken = session.connection().execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery_id, *_due(now))
        .values(lease_until=until)
    )
    if taken.rowcount != 1:
        return None
    delivery, event, endpoint = session.exec(
        select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
        .join(WebhookEvent, col(WebhookDelivery.event_id) == WebhookEvent.id)
        .join(WebhookEndpoint, col(WebhookDelivery.endpoint_id) == WebhookEndpoint.id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    if not endpoint.active:
        delivery.status, delivery.lease_until = "dead", None
        delivery.last_error = f"endpoint {endpoint.id} is inactive"
        session.add(delivery)
        session.flush()
        return None
    return Claimed(
        delivery_id=delivery_id,
        lease_until=until,
        attempts=delivery.attempts,
        url=endpoint.url,
        secret=endpoint.secret,
        event_id=event.event_id,
        event_type=event.type,
        body=body_of(event),
    )


def record(
    session: Session, claimed: Claimed, outcome: Outcome, now: datetime, jitter: float = 0.0
) -> str:
    """Log the try and move the delivery on: delivered, due again after a backoff, or dead.

    The try is always logged; the delivery changes only if the lease is still ours.

    Returns:
        The delivery's new status, or "lost_lease" when it was no longer ours.
    """
    session.add(
        WebhookAttempt(
            delivery_id=claimed.delivery_id,
            at=now,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )
    attempts = claimed.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "lease_until": None,
        "last_status": outcome.status_code,
        "last_error": outcome.error,
    }
    if outcome.ok:
        values |= {"status": "delivered", "delivered_at": now}
    elif attempts >= MAX_ATTEMPTS:
        values |= {"status": "dead"}
    else:
        wait = timedelta(seconds=backoff_seconds(attempts, jitter=jitter))
        values |= {"next_attempt_at": now + wait}
    session.flush()
    changed = session.connection().execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id) == claimed.delivery_id,
            col(WebhookDelivery.lease_until) == claimed.lease_until,
        )
        .values(**values)
    )
    if changed.rowcount != 1:
        log.warning("delivery %s: lease lost while sending; its try is logged", claimed.delivery_id)
        return "lost_lease"
    return str(values.get("status", "pending"))


def deliver_due(
    *,
    sessions: Sessions,
    client: httpx.Client,
    now: Clock = utcnow,
    rng: Callable[[], float] = random.random,
    stop: threading.Event | None = None,
    batch: int = BATCH,
) -> Run:
    """Send every delivery due now, one at a time, until none is left that no one else holds.

    Each claim and each outcome is a short transaction of its own; the POST runs between them.

    Args:
        sessions: opens the short sessions (True: one that writes).
        client: sends the POSTs (its timeout bounds a try).
        now: the clock; tests move one of their own.
        rng: a number in [0, 1) per failed try, for the backoff's jitter.
        stop: when set, stop after the current try.
        batch: deliveries read per query.

    Returns:
        What was tried and what came of it.

    Raises:
        SQLAlchemyError: the database failed; the caller logs it and comes back later. A
            delivery claimed before the error is tried again when its lease runs out.
    """
    run = Run()
    while stop is None or not stop.is_set():
        with sessions(False) as session:
            ids = due_ids(session, now(), batch)
        progressed = False
        for delivery_id in ids:
            if stop is not None and stop.is_set():
                break
            with sessions(True) as session:
                claimed = claim(session, delivery_id, now())
                session.commit()
            progressed = True
            if claimed is None:
                continue
            sent_at = now()
            outcome = post(client, claimed, int(sent_at.timestamp()))
            with sessions(True) as session:
                status = record(session, claimed, outcome, now(), (2 * rng() - 1) * JITTER)
                session.commit()
            run.attempts += 1
            run.delivered += status == "delivered"
            run.retrying += status == "pending"
            run.dead += status == "dead"
        if not progressed:
            return run
    return run
