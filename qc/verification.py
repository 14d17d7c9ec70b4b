"""The verification rule of DESIGN.md, pure: plain values in, plain values out.

The server and the station agent both run this module, so a bench that has lost the network
answers scans exactly as the server will. State is immutable: every step returns a new one.

The rule: every expected unit is matched by exactly one accepted scan; nothing accepted is
outside the order; no unit flagged damaged is left unreplaced; every short-shipped unit is
declared with a reason; serials are unique; lots are not expired; the measured weight, when
there is one, is within tolerance of the expected weight; when policy requires a photo, one
passed the quality gate; the newest photo shows no code of a product foreign to the order.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType

from qc.enums import DefectKind, ParcelStatus, ScanResult
from qc.errors import Conflict, InvalidInput, NotFound


@dataclass(frozen=True)
class Item:
    """What a scanned code identifies in the catalogue."""

    sku: str
    pack_qty: int = 1
    requires_serial: bool = False


@dataclass(frozen=True)
class Line:
    """Expected and counted units of one SKU; kit_qty of the expected units come from kits."""

    sku: str
    expected: int
    kit_qty: int = 0
    accepted: int = 0
    damaged: int = 0
    short: int = 0
    weight_g: int | None = None

    @property
    def good(self) -> int:
        """Units in the box that count: accepted and not flagged damaged."""
        return self.accepted - self.damaged

    @property
    def remaining(self) -> int:
        return max(self.expected - self.good - self.short, 0)

    @property
    def status(self) -> str:
        if self.remaining:
            return "pending"
        return "short" if self.short else "complete"


@dataclass(frozen=True)
class ScanEvent:
    """One code read at the bench, with the catalogue's reading of it.

    `gs1` says the code carried GS1 data (a GTIN, lot or SSCC), so it cannot be a bare serial.
    `serial_taken` says the serial was already accepted in another live parcel.
    """

    event_id: str
    text: str
    item: Item | None
    serial: str | None = None
    expiry: date | None = None
    gs1: bool = False
    serial_taken: bool = False


@dataclass(frozen=True)
class Answer:
    result: ScanResult
    sku: str | None = None
    units: int = 0
    serial: str | None = None
    defect: DefectKind | None = None


_REFUSAL_DEFECTS = {
    ScanResult.WRONG_ITEM: DefectKind.WRONG_ITEM,
    ScanResult.UNKNOWN_CODE: DefectKind.WRONG_ITEM,
    ScanResult.OVER_QUANTITY: DefectKind.EXTRA_ITEM,
    ScanResult.EXPIRED_ITEM: DefectKind.EXPIRED_ITEM,
    ScanResult.DUPLICATE_SERIAL: DefectKind.SERIAL_MISMATCH,
}


def _refuse(result: ScanResult, sku: str | None, serial: str | None = None) -> Answer:
    return Answer(result=result, sku=sku, serial=serial, defect=_REFUSAL_DEFECTS[result])


@dataclass(frozen=True)
class ParcelState:
    lines: tuple[Line, ...]
    serials: frozenset[tuple[str, str]] = frozenset()
    pending_serial: str | None = None
    answers: Mapping[str, Answer] = field(default_factory=lambda: MappingProxyType({}))
    weight_g: int | None = None

    def line(self, sku: str) -> Line | None:
        return next((line for line in self.lines if line.sku == sku), None)

    @property
    def remaining(self) -> int:
        return sum(line.remaining for line in self.lines)

    def _with_line(self, new: Line) -> "ParcelState":
        return replace(self, lines=tuple(new if ln.sku == new.sku else ln for ln in self.lines))

    def _remember(self, event_id: str, answer: Answer) -> "ParcelState":
        return replace(self, answers=MappingProxyType({**self.answers, event_id: answer}))


def scan(state: ParcelState, event: ScanEvent, *, today: date) -> tuple[ParcelState, Answer]:
    """Answer one scan and return the state after it.

    A scan already answered (same event_id) returns its first answer and changes nothing.

    Args:
        state: the parcel before the scan.
        event: the code read, resolved against the catalogue by the caller.
        today: the warehouse's date, for expiry checks.

    Returns:
        The new state and the answer for the packer.
    """
    if event.event_id in state.answers:
        return state, state.answers[event.event_id]
    new, answer = _answer(state, event, today)
    return new._remember(event.event_id, answer), answer


def _answer(state: ParcelState, event: ScanEvent, today: date) -> tuple[ParcelState, Answer]:
    waiting = state.pending_serial
    state = replace(state, pending_serial=None)
    if waiting is not None and event.item is None and not event.gs1:
        # A unit of a serial-tracked product is waiting: this second scan is its serial.
        return _accept(state, waiting, 1, event.text, event.serial_taken)
    item = event.item
    if item is None:
        return state, _refuse(ScanResult.UNKNOWN_CODE, None)
    line = state.line(item.sku)
    if line is None:
        return state, _refuse(ScanResult.WRONG_ITEM, item.sku)
    if event.expiry is not None and event.expiry < today:
        return state, _refuse(ScanResult.EXPIRED_ITEM, item.sku)
    if item.pack_qty > line.remaining:
        return state, _refuse(ScanResult.OVER_QUANTITY, item.sku)
    if event.serial is not None:
        return _accept(state, item.sku, item.pack_qty, event.serial, event.serial_taken)
    if item.requires_serial:
        return replace(state, pending_serial=item.sku), Answer(ScanResult.SERIAL_NEEDED, item.sku)
    return _accept(state, item.sku, item.pack_qty, None, False)


def _accept(
    state: ParcelState, sku: str, units: int, serial: str | None, taken: bool
) -> tuple[ParcelState, Answer]:
    if serial is not None:
        if taken or (sku, serial) in state.serials:
            return state, _refuse(ScanResult.DUPLICATE_SERIAL, sku, serial)
        state = replace(state, serials=state.serials | {(sku, serial)})
    line = state.line(sku)
    assert line is not None  # pending serials and items were checked against the lines
    state = state._with_line(replace(line, accepted=line.accepted + units))
    return state, Answer(ScanResult.ACCEPTED, sku, units, serial)


def _order_line(state: ParcelState, sku: str) -> Line:
    line = state.line(sku)
    if line is None:
        raise NotFound(f"SKU {sku} is not in this parcel's order", code="sku_not_in_order")
    return line


def flag_damaged(state: ParcelState, *, sku: str, qty: int = 1) -> ParcelState:
    """Take `qty` scanned units of `sku` out as damaged: each needs a replacement scan.

    Raises:
        NotFound: the SKU is not in the order.
        Conflict: fewer good units of it are scanned than `qty`.
    """
    line = _order_line(state, sku)
    if qty < 1:
        raise InvalidInput("qty must be at least 1", code="invalid_quantity")
    if qty > line.good:
        raise Conflict(
            f"only {line.good} unit(s) of {sku} are scanned; {qty} cannot be flagged damaged",
            code="nothing_to_flag",
        )
    return state._with_line(replace(line, damaged=line.damaged + qty))


def declare_short(state: ParcelState, *, sku: str, qty: int, reason: str) -> ParcelState:
    """Declare that `qty` units of `sku` ship short (out of stock), with the reason.

    Raises:
        NotFound: the SKU is not in the order.
        InvalidInput: the reason is blank or qty is below 1.
        Conflict: fewer units of it remain unscanned than `qty`.
    """
    line = _order_line(state, sku)
    if not reason.strip():
        raise InvalidInput("a short-ship needs a reason", code="reason_required")
    if qty < 1:
        raise InvalidInput("qty must be at least 1", code="invalid_quantity")
    if qty > line.remaining:
        raise Conflict(
            f"only {line.remaining} unit(s) of {sku} remain to pack; {qty} cannot ship short",
            code="short_exceeds_remaining",
        )
    return state._with_line(replace(line, short=line.short + qty))


@dataclass(frozen=True)
class WeightPolicy:
    tare_g: int = 150
    tolerance_pct: float = 5.0
    tolerance_min_g: int = 30

    def tolerance(self, expected_g: int) -> int:
        return max(round(expected_g * self.tolerance_pct / 100), self.tolerance_min_g)


def expected_weight(state: ParcelState, policy: WeightPolicy) -> int | None:
    """Weight the box should have: the good units' weights plus tare; None if one is unknown."""
    packed = [line for line in state.lines if line.good]
    if any(line.weight_g is None for line in packed):
        return None
    return policy.tare_g + sum((line.weight_g or 0) * line.good for line in packed)


def weight_within_tolerance(state: ParcelState, policy: WeightPolicy) -> bool | None:
    """Whether the scale agrees with the expected weight; None when there is nothing to compare."""
    expected = expected_weight(state, policy)
    if state.weight_g is None or expected is None:
        return None
    return abs(state.weight_g - expected) <= policy.tolerance(expected)


@dataclass(frozen=True)
class Finding:
    kind: DefectKind
    sku: str | None
    qty: int


@dataclass(frozen=True)
class PhotoEvidence:
    """What the parcel's photos prove: one was taken (photos that fail the quality gate are
    never kept), and the SKUs foreign to the order its newest photo clearly shows."""

    taken: bool = False
    foreign_skus: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    status: ParcelStatus
    findings: tuple[Finding, ...]


def close(
    state: ParcelState,
    policy: WeightPolicy,
    photo: PhotoEvidence = PhotoEvidence(),
    *,
    photo_required: bool = False,
) -> Verdict:
    """Apply the rule to a finished packing: passed, or held with the findings that hold it.

    Raises:
        Conflict: policy requires a photo and none was taken (the packer takes one first).
    """
    if photo_required and not photo.taken:
        raise Conflict("take a photo of the open parcel before closing it", code="photo_required")
    findings: list[Finding] = []
    for line in state.lines:
        if not line.remaining:
            continue
        in_kits = min(line.remaining, line.kit_qty)
        if in_kits:
            findings.append(Finding(DefectKind.KIT_INCOMPLETE, line.sku, in_kits))
        if line.remaining - in_kits:
            findings.append(Finding(DefectKind.MISSING_ITEM, line.sku, line.remaining - in_kits))
    if weight_within_tolerance(state, policy) is False:
        findings.append(Finding(DefectKind.WEIGHT_MISMATCH, None, 1))
    findings += [Finding(DefectKind.PHOTO_MISMATCH, sku, 1) for sku in photo.foreign_skus]
    status = ParcelStatus.HELD if findings else ParcelStatus.PASSED
    return Verdict(status, tuple(findings))


def replay(
    state: ParcelState, events: Iterable[ScanEvent], *, today: date
) -> tuple[ParcelState, list[Answer]]:
    """Apply scans in order; what the station agent does with its outbox after a restart."""
    answers = []
    for event in events:
        state, answer = scan(state, event, today=today)
        answers.append(answer)
    return state, answers
