"""Idempotency-Key for POSTs: a retried request gets the first answer and changes nothing.

The key is claimed at the start of the request's transaction. A concurrent twin waits on the
unique index (PostgreSQL) or on the write lock (SQLite) until the first commits, then reads
the stored answer instead of doing the work again.
"""

import hashlib
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.db import in_transaction
from qc.errors import Conflict
from qc.identity import Principal
from qc.models import IdempotencyRecord

Work = Callable[[Session], tuple[int, BaseModel | dict[str, Any]]]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="Any unique string; a retry with the same key replays the first answer.",
    ),
]


def _fingerprint(path: str, payload: BaseModel | None) -> str:
    body = payload.model_dump_json() if payload is not None else ""
    return hashlib.sha256(f"{path}\n{body}".encode()).hexdigest()


def _stored(session: Session, principal: Principal, key: str) -> IdempotencyRecord | None:
    return session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal.label, IdempotencyRecord.key == key
        )
    ).first()


def _replay(record: IdempotencyRecord, fingerprint: str) -> JSONResponse:
    if record.fingerprint != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used for a different request", code="idempotency_key_reused"
        )
    return JSONResponse(
        record.response, record.status_code, headers={"Idempotent-Replayed": "true"}
    )


def _run_once(
    session: Session,
    principal: Principal,
    key: str | None,
    path: str,
    payload: BaseModel | None,
    work: Work,
) -> JSONResponse:
    if key is None:
        status, body = work(session)
        return JSONResponse(_jsonable(body), status)
    fingerprint = _fingerprint(path, payload)
    record = _stored(session, principal, key)
    if record is not None:
        return _replay(record, fingerprint)
    record = IdempotencyRecord(
        principal=principal.label, key=key, fingerprint=fingerprint, status_code=0
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        winner = _stored(session, principal, key)
        assert winner is not None
        return _replay(winner, fingerprint)
    status, body = work(session)
    record.status_code, record.response = status, _jsonable(body)
    session.add(record)
    session.flush()
    return JSONResponse(record.response, status)


async def run_once(
    request: Request,
    principal: Principal,
    key: str | None,
    payload: BaseModel | None,
    work: Work,
) -> JSONResponse:
    """Do `work` in the request's transaction once per (caller, key); without a key, just do it.

    `work` returns (status, body). The whole transaction runs in one worker thread.
    """
    path = request.url.path
    return await in_transaction(
        request, lambda session: _run_once(session, principal, key, path, payload, work)
    )


async def once(
    request: Request,
    principal: Principal,
    key: str | None,
    payload: BaseModel | None,
    call: Callable[[Session], BaseModel],
) -> JSONResponse:
    """`run_once` for the common case: answer 200 with what `call` returns."""
    return await run_once(request, principal, key, payload, lambda session: (200, call(session)))


def _jsonable(body: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return body.model_dump(mode="json") if isinstance(body, BaseModel) else body
