"""The pure rules of complaints: repeat claimants, what a photo proves, kinds to defects."""

from datetime import UTC, datetime, timedelta
from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from qc.complaint_schemas import ComplaintKind
from qc.complaints import (
    KIND_DEFECTS,
    ClaimPolicy,
    confirmed_skus,
    is_repeat_claim,
    shows_evidence,
)
from qc.enums import DefectKind

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
SKUS = ["MUG", "CABLE", "TEA", "LID"]

policies = st.builds(ClaimPolicy, claims=st.integers(1, 6), days=st.integers(1, 120))
# Earlier complaints from 200 days before to 1 day after `NOW` (a clock a little ahead).
offsets = st.lists(st.integers(-200 * 86400, 86400), max_size=12)
sku_sets = st.frozensets(st.sampled_from(SKUS))
kinds = st.sampled_from(get_args(ComplaintKind))


def brute_force(offsets: list[int], policy: ClaimPolicy) -> bool:
    inside = [o for o in offsets if -policy.days * 86400 <= o <= 0]
    return len(inside) + 1 >= policy.claims


@given(offsets, policies)
def test_repeat_claim_counts_this_complaint_and_those_inside_the_period(
    seconds: list[int], policy: ClaimPolicy
) -> None:
    earlier = [NOW + timedelta(seconds=s) for s in seconds]
    assert is_repeat_claim(earlier, NOW, policy=policy) == brute_force(seconds, policy)


@given(offsets, st.integers(-200 * 86400, 0), policies)
def test_one_more_earlier_complaint_never_clears_the_flag(
    seconds: list[int], extra: int, policy: ClaimPolicy
) -> None:
    earlier = [NOW + timedelta(seconds=s) for s in seconds]
    if is_repeat_claim(earlier, NOW, policy=policy):
        assert is_repeat_claim([*earlier, NOW + timedelta(seconds=extra)], NOW, policy=policy)


@given(offsets, st.integers(1, 120))
def test_a_threshold_of_one_flags_everyone(seconds: list[int], days: int) -> None:
    earlier = [NOW + timedelta(seconds=s) for s in seconds]
    assert is_repeat_claim(earlier, NOW, policy=ClaimPolicy(claims=1, days=days))


def test_the_default_third_complaint_within_ninety_days() -> None:
    policy = ClaimPolicy()
    two = [NOW - timedelta(days=89), NOW - timedelta(days=1)]
    assert not is_repeat_claim(two[:1], NOW, policy=policy)
    assert is_repeat_claim(two, NOW, policy=policy)
    assert not is_repeat_claim([NOW - timedelta(days=91), two[1]], NOW, policy=policy)


codes = st.lists(
    st.fixed_dictionaries({
        "text": st.text(max_size=8), "format": st.just("EAN13"),
        "gtin": st.none(), "sku": st.none() | st.sampled_from(SKUS),
        "expected": st.booleans(), "confirmed": st.booleans(), "order_slip": st.booleans(),
    }),
    max_size=6,
)  # fmt: skip


@given(codes)
def test_only_confirmed_reads_of_products_count(seen: list[dict]) -> None:
    assert confirmed_skus(seen) == {
        c["sku"] for c in seen if c["sku"] and c["confirmed"] and not c["order_slip"]
    }


@given(kinds, st.none() | st.sampled_from(SKUS), sku_sets, st.lists(sku_sets, max_size=4))
def test_evidence_rule(
    kind: str, sku: str | None, parcel: frozenset[str], photos: list[frozenset[str]]
) -> None:
    shown = frozenset().union(*photos)
    if kind not in ("missing", "wrong") or not photos:
        expected = False
    elif sku is not None:
        expected = sku in shown
    else:
        expected = kind == "missing" and bool(parcel) and parcel <= shown
    assert shows_evidence(kind=kind, sku=sku, parcel_skus=parcel, photos=photos) is expected


@given(kinds, st.none() | st.sampled_from(SKUS), sku_sets, st.lists(sku_sets), sku_sets)
def test_another_photo_never_takes_evidence_away(
    kind: str,
    sku: str | None,
    parcel: frozenset[str],
    photos: list[frozenset[str]],
    more: frozenset[str],
) -> None:
    if shows_evidence(kind=kind, sku=sku, parcel_skus=parcel, photos=photos):
        assert shows_evidence(kind=kind, sku=sku, parcel_skus=parcel, photos=[*photos, more])


def test_evidence_for_a_sku_is_one_photo_showing_it() -> None:
    photos = [frozenset({"MUG"}), frozenset({"CABLE"})]
    assert shows_evidence(kind="missing", sku="CABLE", parcel_skus={"MUG"}, photos=photos)
    assert shows_evidence(kind="missing", sku=None, parcel_skus={"MUG", "CABLE"}, photos=photos)
    assert not shows_evidence(kind="wrong", sku=None, parcel_skus={"MUG"}, photos=photos)
    assert not shows_evidence(kind="damaged", sku="MUG", parcel_skus={"MUG"}, photos=photos)
    assert not shows_evidence(kind="missing", sku="MUG", parcel_skus={"MUG"}, photos=[])


def test_every_kind_has_its_defect() -> None:
    assert set(KIND_DEFECTS) == set(get_args(ComplaintKind))
    assert KIND_DEFECTS == {
        "missing": DefectKind.MISSING_ITEM,
        "wrong": DefectKind.WRONG_ITEM,
        "damaged": DefectKind.DAMAGED_ITEM,
        "extra": DefectKind.EXTRA_ITEM,
        "other": None,
    }
