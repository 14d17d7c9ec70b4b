"""The verification rule: examples for each answer, and properties over random orders and scans."""

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qc import verification as v
from qc.enums import DefectKind, ParcelStatus, ScanResult
from qc.errors import Conflict, InvalidInput, NotFound

TODAY = date(2026, 11, 22)
POLICY = v.WeightPolicy(tare_g=100, tolerance_pct=5, tolerance_min_g=20)


def state_of(*lines: v.Line) -> v.ParcelState:
    return v.ParcelState(lines=lines)


def ev(event_id: str, sku: str | None, *, pack: int = 1, serial_req: bool = False, **kw: object):
    item = None if sku is None else v.Item(sku, pack, serial_req)
    return v.ScanEvent(event_id=event_id, text=kw.pop("text", sku or "?"), item=item, **kw)  # type: ignore[arg-type]


def run(state: v.ParcelState, *events: v.ScanEvent) -> tuple[v.ParcelState, list[v.Answer]]:
    return v.replay(state, events, today=TODAY)


# -- examples: one per answer --------------------------------------------------------------


def test_accepted_scan_counts_the_unit() -> None:
    state, [answer] = run(state_of(v.Line("A", 2)), ev("e1", "A"))
    assert answer == v.Answer(ScanResult.ACCEPTED, "A", 1)
    assert state.line("A").accepted == 1
    assert state.remaining == 1


def test_item_outside_the_order_is_wrong_item_and_a_defect() -> None:
    state, [answer] = run(state_of(v.Line("A", 1)), ev("e1", "B"))
    assert (answer.result, answer.sku, answer.defect) == (
        ScanResult.WRONG_ITEM,
        "B",
        DefectKind.WRONG_ITEM,
    )
    assert state.remaining == 1


def test_code_nobody_knows_is_unknown_code() -> None:
    _, [answer] = run(state_of(v.Line("A", 1)), ev("e1", None, text="XYZ"))
    assert answer.result is ScanResult.UNKNOWN_CODE
    assert answer.defect is DefectKind.WRONG_ITEM


def test_one_unit_too_many_is_over_quantity() -> None:
    _, answers = run(state_of(v.Line("A", 1)), ev("e1", "A"), ev("e2", "A"))
    assert [a.result for a in answers] == [ScanResult.ACCEPTED, ScanResult.OVER_QUANTITY]
    assert answers[1].defect is DefectKind.EXTRA_ITEM


def test_case_pack_counts_its_quantity_or_is_refused_whole() -> None:
    state, answers = run(state_of(v.Line("A", 8)), ev("c1", "A", pack=6), ev("c2", "A", pack=6))
    assert [(a.result, a.units) for a in answers] == [
        (ScanResult.ACCEPTED, 6),
        (ScanResult.OVER_QUANTITY, 0),
    ]
    assert state.line("A").accepted == 6


def test_expired_lot_is_refused() -> None:
    _, [answer] = run(state_of(v.Line("A", 1)), ev("e1", "A", expiry=date(2026, 11, 21)))
    assert answer.result is ScanResult.EXPIRED_ITEM
    _, [answer] = run(state_of(v.Line("A", 1)), ev("e1", "A", expiry=TODAY))
    assert answer.result is ScanResult.ACCEPTED


def test_serial_product_takes_a_second_scan_as_its_serial() -> None:
    state, answers = run(
        state_of(v.Line("P", 2)),
        ev("e1", "P", serial_req=True),
        ev("e2", None, text="SN-001"),
        ev("e3", "P", serial_req=True),
        ev("e4", None, text="SN-001"),
    )
    assert [a.result for a in answers] == [
        ScanResult.SERIAL_NEEDED,
        ScanResult.ACCEPTED,
        ScanResult.SERIAL_NEEDED,
        ScanResult.DUPLICATE_SERIAL,
    ]
    assert answers[1].serial == "SN-001"
    assert answers[3].defect is DefectKind.SERIAL_MISMATCH
    assert state.line("P").accepted == 1
    assert state.pending_serial is None


def test_gs1_serial_in_the_same_scan_and_one_taken_elsewhere() -> None:
    _, answers = run(
        state_of(v.Line("P", 2)),
        ev("e1", "P", serial_req=True, serial="S1", gs1=True),
        ev("e2", "P", serial_req=True, serial="S2", gs1=True, serial_taken=True),
    )
    assert [a.result for a in answers] == [ScanResult.ACCEPTED, ScanResult.DUPLICATE_SERIAL]


def test_a_product_scan_while_a_serial_is_awaited_cancels_the_wait() -> None:
    state, answers = run(
        state_of(v.Line("P", 1), v.Line("A", 1)),
        ev("e1", "P", serial_req=True),
        ev("e2", "A"),
        ev("e3", None, text="SN-9"),
    )
    assert [a.result for a in answers] == [
        ScanResult.SERIAL_NEEDED,
        ScanResult.ACCEPTED,
        ScanResult.UNKNOWN_CODE,
    ]
    assert state.line("P").accepted == 0


def test_damaged_unit_needs_a_replacement() -> None:
    state, _ = run(state_of(v.Line("A", 1)), ev("e1", "A"))
    state = v.flag_damaged(state, sku="A")
    assert v.close(state, POLICY).status is ParcelStatus.HELD
    state, [answer] = run(state, ev("e2", "A"))
    assert answer.result is ScanResult.ACCEPTED
    assert v.close(state, POLICY) == v.Verdict(ParcelStatus.PASSED, ())


def test_damaged_cannot_exceed_what_is_scanned() -> None:
    with pytest.raises(Conflict) as caught:
        v.flag_damaged(state_of(v.Line("A", 1)), sku="A")
    assert caught.value.code == "nothing_to_flag"
    with pytest.raises(NotFound):
        v.flag_damaged(state_of(v.Line("A", 1)), sku="B")


def test_short_ship_needs_a_reason_and_lets_the_parcel_pass() -> None:
    state = state_of(v.Line("A", 3))
    with pytest.raises(InvalidInput):
        v.declare_short(state, sku="A", qty=1, reason="  ")
    with pytest.raises(Conflict):
        v.declare_short(state, sku="A", qty=4, reason="out of stock")
    state, _ = run(state, ev("e1", "A"))
    state = v.declare_short(state, sku="A", qty=2, reason="out of stock")
    assert state.line("A").status == "short"
    assert v.close(state, POLICY).status is ParcelStatus.PASSED


def test_missing_units_from_kits_are_kit_incomplete() -> None:
    state = state_of(v.Line("LID", 3, kit_qty=2), v.Line("BODY", 2, kit_qty=2))
    state, _ = run(state, ev("e1", "BODY"), ev("e2", "BODY"))
    assert v.close(state, POLICY).findings == (
        v.Finding(DefectKind.KIT_INCOMPLETE, "LID", 2),
        v.Finding(DefectKind.MISSING_ITEM, "LID", 1),
    )


def test_weight_within_tolerance_passes_outside_holds() -> None:
    state, _ = run(state_of(v.Line("A", 2, weight_g=500)), ev("e1", "A"), ev("e2", "A"))
    assert v.expected_weight(state, POLICY) == 1100
    assert POLICY.tolerance(1100) == 55
    for grams, status in [
        (1155, ParcelStatus.PASSED),
        (1045, ParcelStatus.PASSED),
        (1156, ParcelStatus.HELD),
    ]:
        verdict = v.close(replace(state, weight_g=grams), POLICY)
        assert verdict.status is status
    assert POLICY.tolerance(100) == 20


def test_weight_is_not_checked_when_a_product_weight_is_unknown() -> None:
    state, _ = run(state_of(v.Line("A", 1, weight_g=None)), ev("e1", "A"))
    assert v.weight_within_tolerance(replace(state, weight_g=99999), POLICY) is None
    assert v.close(replace(state, weight_g=99999), POLICY).status is ParcelStatus.PASSED


# -- properties ----------------------------------------------------------------------------

SKUS = [f"S{i}" for i in range(6)]


@st.composite
def orders(draw: st.DrawFn) -> tuple[v.ParcelState, dict[str, bool]]:
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=5, unique=True))
    lines, serial = [], {}
    for sku in skus:
        expected = draw(st.integers(1, 4))
        lines.append(v.Line(sku, expected, kit_qty=draw(st.integers(0, expected)), weight_g=100))
        serial[sku] = draw(st.booleans())
    return v.ParcelState(lines=tuple(lines)), serial


def unit_scans(
    state: v.ParcelState, serial: dict[str, bool], style: list[bool]
) -> list[list[v.ScanEvent]]:
    """One group of events per expected unit: one scan, or product + serial scans kept together."""
    groups, n = [], 0
    for line in state.lines:
        for unit in range(line.expected):
            n += 1
            sn = f"{line.sku}-SN{unit}"
            if not serial[line.sku]:
                groups.append([ev(f"e{n}", line.sku)])
            elif style[n % len(style)]:
                groups.append([ev(f"e{n}", line.sku, serial_req=True, serial=sn, gs1=True)])
            else:
                groups.append(
                    [ev(f"e{n}a", line.sku, serial_req=True), ev(f"e{n}b", None, text=sn)]
                )
    return groups


@given(orders(), st.lists(st.booleans(), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_any_permutation_of_a_correct_sequence_passes(order, style, rnd) -> None:
    state, serial = order
    groups = unit_scans(state, serial, style)
    rnd.shuffle(groups)
    final, answers = run(state, *[e for group in groups for e in group])
    assert all(a.result in (ScanResult.ACCEPTED, ScanResult.SERIAL_NEEDED) for a in answers)
    assert final.remaining == 0
    assert v.close(final, POLICY) == v.Verdict(ParcelStatus.PASSED, ())


@given(orders(), st.lists(st.booleans(), min_size=1, max_size=8), st.data())
def test_removing_any_one_unit_holds_the_parcel(order, style, data) -> None:
    state, serial = order
    groups = unit_scans(state, serial, style)
    dropped = data.draw(st.integers(0, len(groups) - 1))
    sku = groups[dropped][0].item.sku
    final, _ = run(state, *[e for i, g in enumerate(groups) if i != dropped for e in g])
    verdict = v.close(final, POLICY)
    kind = DefectKind.KIT_INCOMPLETE if state.line(sku).kit_qty else DefectKind.MISSING_ITEM
    assert verdict == v.Verdict(ParcelStatus.HELD, (v.Finding(kind, sku, 1),))


random_events = st.lists(
    st.builds(
        lambda i, sku, pack, serial, req: ev(
            f"e{i}", sku, pack=pack, serial_req=req, serial=serial, gs1=serial is not None
        ),
        st.integers(0, 30),
        st.one_of(st.none(), st.sampled_from(SKUS)),
        st.sampled_from([1, 1, 1, 2, 6]),
        st.one_of(st.none(), st.sampled_from(["X1", "X2"])),
        st.booleans(),
    ),
    max_size=40,
)


@given(orders(), random_events, st.data())
def test_a_replayed_event_changes_nothing(order, events, data) -> None:
    state, _ = order
    final, _ = run(state, *events)
    i = data.draw(st.integers(0, len(events) - 1)) if events else None
    if i is not None:
        again, [answer] = run(final, events[i])
        assert again == final
        assert answer == final.answers[events[i].event_id]


@given(orders(), random_events)
def test_nothing_is_ever_counted_beyond_the_order(order, events) -> None:
    state, _ = order
    final, answers = run(state, *events)
    for line in final.lines:
        assert 0 <= line.good <= line.expected
    for answer in answers:
        refused = answer.result not in (ScanResult.ACCEPTED, ScanResult.SERIAL_NEEDED)
        assert (answer.defect is not None) == refused
        assert (answer.units > 0) == (answer.result is ScanResult.ACCEPTED)
    accepted_units = {ln.sku: ln.accepted for ln in final.lines}
    first = {}
    for e, a in zip(events, answers, strict=True):
        first.setdefault(e.event_id, a)
    for sku, units in accepted_units.items():
        assert units == sum(a.units for a in first.values() if a.sku == sku)


# -- photos ---------------------------------------------------------------------------------

PACKED = state_of(v.Line("MUG", 1, accepted=1, weight_g=None))


def test_a_photo_is_needed_to_close_only_when_policy_says_so() -> None:
    assert v.close(PACKED, POLICY).status is ParcelStatus.PASSED
    with pytest.raises(Conflict) as refused:
        v.close(PACKED, POLICY, v.PhotoEvidence(taken=False), photo_required=True)
    assert refused.value.code == "photo_required"
    verdict = v.close(PACKED, POLICY, v.PhotoEvidence(taken=True), photo_required=True)
    assert verdict.status is ParcelStatus.PASSED


@given(
    st.lists(st.sampled_from(SKUS), unique=True, max_size=4),
    st.booleans(),
)
def test_each_foreign_item_in_the_photo_is_one_finding_and_holds(
    foreign: list[str], required: bool
) -> None:
    verdict = v.close(
        PACKED, POLICY, v.PhotoEvidence(taken=True, foreign_skus=tuple(foreign)),
        photo_required=required,
    )  # fmt: skip
    mismatches = [f for f in verdict.findings if f.kind is DefectKind.PHOTO_MISMATCH]
    assert [f.sku for f in mismatches] == foreign
    assert all(f.qty == 1 for f in mismatches)
    assert verdict.status is (ParcelStatus.HELD if foreign else ParcelStatus.PASSED)
