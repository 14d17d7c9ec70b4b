"""Webhook signatures and the retry schedule: pure functions, checked for any input."""

import hashlib
import hmac

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from qc.webhook_delivery import (
    FIRST_DELAY_S,
    JITTER,
    MAX_ATTEMPTS,
    MAX_DELAY_S,
    backoff_seconds,
    sign,
    verify,
)

secrets = st.text(min_size=16, max_size=200)
stamps = st.integers(min_value=0, max_value=10**11)
bodies = st.binary(max_size=2000)
attempts = st.integers(min_value=1, max_value=1000)
jitters = st.floats(min_value=-JITTER, max_value=JITTER, allow_nan=False)


def test_the_signature_is_the_documented_hmac() -> None:
    body = b'{"id":"e1","type":"parcel.held"}'
    digest = hmac.new(b"s" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s" * 16, 1700000000, body) == f"t=1700000000,v1={digest}"


@given(secret=secrets, timestamp=stamps, body=bodies)
def test_a_signature_verifies_with_its_secret_timestamp_and_body(
    secret: str, timestamp: int, body: bytes
) -> None:
    header = sign(secret, timestamp, body)
    assert verify(secret, header, body)
    assert verify(secret, header, body, now=timestamp + 300)
    assert not verify(secret, header, body, now=timestamp + 301)


@given(secret=secrets, other=secrets, timestamp=stamps, body=bodies)
def test_another_secret_fails(secret: str, other: str, timestamp: int, body: bytes) -> None:
    assume(other != secret)
    assert not verify(other, sign(secret, timestamp, body), body)


@given(secret=secrets, timestamp=stamps, later=stamps, body=bodies)
def test_another_timestamp_fails(secret: str, timestamp: int, later: int, body: bytes) -> None:
    assume(later != timestamp)
    digest = sign(secret, timestamp, body).partition(",v1=")[2]
    assert not verify(secret, f"t={later},v1={digest}", body)


@given(secret=secrets, timestamp=stamps, body=bodies, other=bodies)
def test_another_body_fails(secret: str, timestamp: int, body: bytes, other: bytes) -> None:
    assume(other != body)
    assert not verify(secret, sign(secret, timestamp, body), other)


@given(secret=secrets, body=bodies, header=st.text(max_size=200))
def test_a_malformed_header_fails_and_never_raises(secret: str, body: bytes, header: str) -> None:
    assume(not header.startswith("t="))
    assert not verify(secret, header, body)


def test_headers_without_a_timestamp_or_with_two_fail() -> None:
    header = sign("k" * 16, 1700000000, b"{}")
    digest = header.partition(",v1=")[2]
    assert not verify("k" * 16, f"v1={digest}", b"{}")
    assert not verify("k" * 16, f"t=1700000000,t=1700000001,v1={digest}", b"{}")
    assert not verify("k" * 16, f"t=-1700000000,v1={digest}", b"{}")
    assert verify("k" * 16, f"t=1700000000,v1={'0' * 64},v1={digest}", b"{}")  # key rotation


@given(first=attempts, second=attempts)
def test_backoff_never_shrinks_and_is_capped_at_an_hour(first: int, second: int) -> None:
    low, high = sorted((first, second))
    assert FIRST_DELAY_S <= backoff_seconds(low) <= backoff_seconds(high) <= MAX_DELAY_S


@given(attempt=attempts, jitter=jitters)
def test_jitter_stays_within_ten_percent(attempt: int, jitter: float) -> None:
    base = backoff_seconds(attempt)
    delay = backoff_seconds(attempt, jitter=jitter)
    assert base * (1 - JITTER) - 1e-9 <= delay <= base * (1 + JITTER) + 1e-9
    assert delay <= MAX_DELAY_S * (1 + JITTER) + 1e-9


def test_the_schedule_doubles_from_thirty_seconds() -> None:
    waits = [backoff_seconds(n) for n in range(1, MAX_ATTEMPTS)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


@pytest.mark.parametrize(("attempt", "jitter"), [(0, 0.0), (-3, 0.0), (1, 0.2), (1, -0.11)])
def test_backoff_refuses_what_cannot_be(attempt: int, jitter: float) -> None:
    with pytest.raises(ValueError, match=r"attempts|jitter"):
        backoff_seconds(attempt, jitter=jitter)
