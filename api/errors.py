"""Every error leaves as {"error": machine_code, "detail": human sentence}; a 500 is a bug."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from qc.errors import QCError
from qc.photo_store import StoreUnavailable

log = logging.getLogger("qc.api")


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorOut(BaseModel):
    error: str
    detail: str
    fields: list[FieldError] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "The request breaks a rule of the domain",
        401: "No key, or an unknown or revoked key",
        403: "The key's role may not do this",
        404: "No such object",
        409: "The object's state does not allow this",
        413: "The upload is larger than the server accepts",
        415: "The upload is not of a type the server accepts",
        422: "The payload is malformed, or an upload is unusable",
        503: "The database or the photo store is busy or down: retry after Retry-After seconds",
    }.items()
}

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "too_large"}


def _body(code: str, detail: str, fields: list[FieldError] | None = None) -> dict[str, object]:
    return ErrorOut(error=code, detail=detail, fields=fields).model_dump(exclude_none=True)


def _where(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(QCError)
    def _domain(_request: Request, exc: QCError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            {**_body(exc.code, exc.message), **exc.extra}, exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        fields = [FieldError(loc=list(e.get("loc", ())), msg=str(e.get("msg", ""))) for e in errors]
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(_body("invalid_json", "the body is not valid JSON", fields), 422)
        detail = "; ".join(f"{_where(tuple(e.get('loc', ())))}: {e.get('msg')}" for e in errors[:5])
        return JSONResponse(_body("invalid_request", detail, fields), 422)

    @app.exception_handler(HTTPException)
    def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(DataError)
    def _unstorable(_request: Request, _exc: DataError) -> JSONResponse:
        # A value the database refuses (a NUL character in text for PostgreSQL, say): the
        # client sent it, and the request's transaction was rolled back.
        return JSONResponse(_body("invalid_value", "a value in the request cannot be stored"), 400)

    @app.exception_handler(StoreUnavailable)
    def _store(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.error("photo store unavailable on %s %s: %s", request.method, request.url.path, exc)
        text = "the photo store cannot be reached; retry in a moment"
        return JSONResponse(
            _body("photo_store_unavailable", text), 503, headers={"Retry-After": "5"}
        )

    @app.exception_handler(OperationalError)
    def _database(request: Request, exc: OperationalError) -> JSONResponse:
        # Lock timeouts under overload and a database that went away are the server's
        # condition, not a bug and not the client's fault: say so, and when to come back.
        busy = "locked" in str(exc.orig).lower()
        log.warning(
            "database %s on %s %s",
            "busy" if busy else "unavailable",
            request.method,
            request.url.path,
        )
        code, text = (
            ("database_busy", "the database is busy; retry in a moment")
            if busy
            else ("database_unavailable", "the database cannot be reached; retry in a moment")
        )
        return JSONResponse(_body(code, text), 503, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            _body("internal_error", "something went wrong on our side; it is logged"), 500
        )
