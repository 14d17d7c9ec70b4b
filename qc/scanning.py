"""A scan at the bench: read the code, ask the verification rule, keep the answer for replays.

This is the hot path of the service (a packer waits on every answer), so it is written to the
round trip: the parcel locked, its lines, the code's product, one insert that also tells a
replay (its event id is taken) from a new scan, one update of the counts. A replay is looked up
only when the insert yields or the parcel refuses the scan (closed meanwhile, say): replays are
rare, and every scan would otherwise pay for the look.
"""

from dataclasses import replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from qc import verification as v
from qc.barcodes import ScannedCode, parse_scan
from qc.catalogue import ProductRef, resolve_code
from qc.enums import ParcelStatus, ScanResult, ScanSource
from qc.errors import Conflict, Forbidden, NotFound
from qc.identity import Principal
from qc.messages import GREEN, scan_message
from qc.models import Parcel, Scan, utcnow
from qc.parcel_state import (
    SAVE_LINE,
    Loaded,
    add_defect,
    changed_lines,
    line_views,
    load,
    save,
    station_parcel_row,
)
from qc.schemas import ScanAnswer, ScanIn


class ReplayedAnswer(dict[str, Any]):
    """The first answer to a scan, given again for a replay of its event id: a plain dict whose
    type tells a caller that counts scans that nothing new happened."""


def _replayed(scan: Row[Any], parcel_id: int, code: str) -> dict[str, Any]:
    if scan.parcel_id != parcel_id or scan.code != code:
        raise Conflict(
            f"event {scan.event_id} was already used for another scan (parcel {scan.parcel_id})",
            code="event_id_reused",
        )
    return ReplayedAnswer({"scan_id": scan.id, **scan.answer})


# The hot path's statements are built once: building one costs more than running it. They run
# on the session's connection as Core statements, with no ORM objects to track.
_EXISTING = sa.select(
    col(Scan.id), col(Scan.parcel_id), col(Scan.code), col(Scan.event_id), col(Scan.answer)
).where(
    col(Scan.station_id) == bindparam("station_id"), col(Scan.event_id) == bindparam("event_id")
)
_SERIAL_TAKEN = (
    sa.select(col(Scan.id))
    .join(Parcel, col(Scan.parcel_id) == Parcel.id)
    .where(
        col(Scan.product_id) == bindparam("product_id"),
        col(Scan.serial) == bindparam("serial"),
        col(Scan.result) == ScanResult.ACCEPTED,
        col(Parcel.status) != ParcelStatus.VOIDED,
    )
    .limit(1)
)
_SCAN_FIELDS = (
    "parcel_id", "station_id", "event_id", "code", "source", "result", "product_id", "units",
    "gtin", "lot", "expiry", "serial", "recorded_at", "received_at", "answer",
)  # fmt: skip
_INSERT = {
    "postgresql": postgresql.insert(Scan)
    .on_conflict_do_nothing(index_elements=["station_id", "event_id"])
    .returning(col(Scan.id)),
    "sqlite": sqlite.insert(Scan)
    .on_conflict_do_nothing(index_elements=["station_id", "event_id"])
    .returning(col(Scan.id)),
}


def _existing(session: Session, station: Principal, event_id: str) -> Row[Any] | None:
    params = {"station_id": station.id, "event_id": event_id}
    return session.connection().execute(_EXISTING, params).first()


def _serial_taken(session: Session, product: ProductRef | None, serial: str | None) -> bool:
    """Whether this serial of this product was accepted in any parcel that is not voided."""
    if product is None or serial is None:
        return False
    params = {"product_id": product.id, "serial": serial}
    return session.connection().execute(_SERIAL_TAKEN, params).first() is not None


def _event(
    session: Session, loaded: Loaded, code: ScannedCode, data: ScanIn
) -> tuple[v.ScanEvent, ProductRef | None]:
    """The scan as the verification rule sees it, and the product the code names, if any."""
    found = resolve_code(session, code, by_sku=data.source == ScanSource.MANUAL)
    item = None if found is None else v.Item(found[0].sku, found[1], found[0].requires_serial)
    gs1 = code.gtin is not None or code.sscc is not None or code.lot is not None
    product: ProductRef | None
    serial: str | None
    if found is None and loaded.state.pending_serial and not gs1:
        product, serial = loaded.products[loaded.state.pending_serial], code.text
    else:
        product, serial = (found[0] if found else None), code.serial
    event = v.ScanEvent(
        event_id=data.event_id,
        text=code.text,
        item=item,
        serial=code.serial,
        expiry=code.expiry,
        gs1=gs1,
        serial_taken=_serial_taken(session, product, serial),
    )
    return event, product


def _expected_instead(loaded: Loaded) -> ProductRef | None:
    """For a wrong item: the SKU the packer meant to pick, when only one is still to pick."""
    pending = [line.sku for line in loaded.state.lines if line.remaining]
    return loaded.products[pending[0]] if len(pending) == 1 else None


# PostgreSQL: the scan row and its line's new counts in one statement, one round trip fewer;
# the counts are written only when the scan row was (not for a replay, which yields).
_SCAN_ROW: dict[str, Any] = {name: bindparam(f"scan_{name}") for name in _SCAN_FIELDS}
_PG_SCAN = (
    postgresql.insert(Scan)
    .values(_SCAN_ROW)
    .on_conflict_do_nothing(index_elements=["station_id", "event_id"])
    .returning(col(Scan.id))
    .cte("new_scan")
)
_INSERT_AND_COUNT = sa.select(_PG_SCAN.c.id).add_cte(
    SAVE_LINE.where(sa.exists(sa.select(_PG_SCAN.c.id))).cte("counted")
)


def _insert_once(
    session: Session, values: dict[str, Any], counts: dict[str, int] | None
) -> tuple[int | None, bool]:
    """Insert the scan unless its (station, event id) exists: (the new id or None, counted).

    On PostgreSQL `counts` (one changed line's, for `SAVE_LINE`) go in the same statement, and
    `counted` says so; elsewhere the caller saves them. A twin still in flight makes this wait
    for it (PostgreSQL), then yield to it.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    if counts is not None and dialect == "postgresql":
        params = {f"scan_{name}": value for name, value in values.items()} | counts
        return connection.execute(_INSERT_AND_COUNT, params).scalar(), True
    return connection.execute(_INSERT[dialect], values).scalar(), False


def record_scan(
    *,
    session: Session,
    parcel_id: int,
    station: Principal,
    data: ScanIn,
    today: date,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Answer a scan once; the same event id again returns the first answer and writes nothing.

    Returns:
        The answer; for a replay, the first answer as a `ReplayedAnswer`.

    Raises:
        NotFound, Forbidden, Conflict: no such parcel, another station's, or not packing; or the
            event id was used for a different scan.
    """
    try:
        parcel = station_parcel_row(session, parcel_id, station, ParcelStatus.PACKING)
    except (NotFound, Forbidden, Conflict):
        existing = _existing(session, station, data.event_id)
        if existing is None:
            raise
        return _replayed(existing, parcel_id, data.code)
    loaded = load(session, parcel)
    code = parse_scan(data.code)
    event, product = _event(session, loaded, code, data)
    instead = _expected_instead(loaded)
    state, answer = v.scan(loaded.state, event, today=today)
    body = ScanAnswer(
        scan_id=0,  # known after the insert; stored answers leave it out
        event_id=data.event_id,
        result=answer.result,
        ok=answer.result in GREEN,
        sku=answer.sku,
        units=answer.units,
        message=scan_message(answer, code, state),
        remaining=state.remaining,
        lines=line_views(replace(loaded, state=state)),
    ).model_dump(mode="json", exclude={"scan_id"})
    now = now or utcnow()
    changed = changed_lines(loaded, state)
    one_line = len(changed) == 1 and state.pending_serial == loaded.state.pending_serial
    scan_id, counted = _insert_once(
        session,
        {
            "parcel_id": parcel_id,
            "station_id": station.id,
            "event_id": data.event_id,
            "code": data.code,
            "source": data.source,
            "result": answer.result,
            "product_id": product.id if product else None,
            "units": answer.units,
            "gtin": code.gtin,
            "lot": code.lot,
            "expiry": code.expiry,
            "serial": answer.serial,
            "recorded_at": data.recorded_at or now,
            "received_at": now,
            "answer": body,
        },
        changed[0] if one_line else None,
    )
    if scan_id is None:
        # A replay, or a twin of this event that got in first: the first answer stands, and
        # nothing of this one was written.
        winner = _existing(session, station, data.event_id)
        assert winner is not None
        return _replayed(winner, parcel_id, data.code)
    if not counted:
        save(session, parcel, loaded, state)
    if answer.defect is not None:
        wrong = answer.result == ScanResult.WRONG_ITEM and instead is not None
        add_defect(
            session,
            parcel,
            answer.defect,
            product=product,
            scan_id=scan_id,
            expected_product_id=instead.id if wrong and instead else None,
        )
    return {"scan_id": scan_id, **body}
