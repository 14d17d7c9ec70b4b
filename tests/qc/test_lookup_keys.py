"""How support's spellings are made comparable: lookup_key, and how a query is classified."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qc.barcodes import gtin_check_digit
from qc.errors import InvalidBarcode, InvalidInput
from qc.lookup import MAX_QUERY_LENGTH, classify
from qc.lookup_keys import lookup_key
from qc.schemas import ShipIn, sscc_digits

# What people paste between characters: spaces, tabs, line breaks, no-break and wide spaces.
WHITESPACE = st.text(alphabet=" \t\n\r\u00a0\u2003\u3000", min_size=1, max_size=3)
ASCII = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40)


@given(st.text(max_size=60))
def test_lookup_key_is_idempotent(text: str) -> None:
    assert lookup_key(lookup_key(text)) == lookup_key(text)


@given(st.text(max_size=40), st.data())
def test_lookup_key_ignores_whitespace_inserted_anywhere(text: str, data: st.DataObject) -> None:
    spaced = ""
    for char in text:
        spaced += data.draw(st.one_of(st.just(""), WHITESPACE)) + char
    spaced += data.draw(st.one_of(st.just(""), WHITESPACE))
    assert lookup_key(spaced) == lookup_key(text)


@given(ASCII)
def test_lookup_key_ignores_case(text: str) -> None:
    assert lookup_key(text.lower()) == lookup_key(text.upper()) == lookup_key(text)


@given(st.text(max_size=40), st.integers(min_value=1, max_value=3), WHITESPACE)
def test_lookup_key_ignores_leading_hashes(text: str, hashes: int, space: str) -> None:
    assert lookup_key("#" * hashes + text) == lookup_key(text)
    assert lookup_key("#" + space + text) == lookup_key(text)


@given(st.text(max_size=60))
def test_a_key_has_no_whitespace_no_leading_hash_and_no_lower_case(text: str) -> None:
    key = lookup_key(text)
    assert not any(c.isspace() for c in key)
    assert not key.startswith("#")
    assert key == key.upper()


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("# 10 042", "10042"),
        ("#10042", "10042"),
        ("ab-1234", "AB-1234"),
        ("  Shop Customer 42 ", "SHOPCUSTOMER42"),
        ("(00) 1061 4141", "(00)10614141"),
        ("A#1", "A#1"),  # only a leading '#' goes
    ],
)
def test_lookup_key_examples(typed: str, key: str) -> None:
    assert lookup_key(typed) == key


def valid_sscc(body: str) -> str:
    return body + str(gtin_check_digit(body))


SSCC_BODY = st.text(alphabet="0123456789", min_size=17, max_size=17)


@given(SSCC_BODY, st.sampled_from(["{}", "(00){}", "00{}", "(00) {}", " 00 {} "]))
def test_every_sscc_spelling_reads_as_its_18_digits(body: str, form: str) -> None:
    sscc = valid_sscc(body)
    query = classify(form.format(sscc))
    assert (query.sscc, query.parcel_id) == (sscc, None)
    assert ShipIn(tracking_number="TRK-1", sscc=form.format(sscc)).sscc == sscc


@given(SSCC_BODY, st.integers(min_value=1, max_value=9))
def test_a_wrong_sscc_check_digit_is_refused(body: str, off: int) -> None:
    wrong = body + str((gtin_check_digit(body) + off) % 10)
    with pytest.raises(InvalidBarcode) as refused:
        ShipIn(tracking_number="TRK-1", sscc=wrong)
    assert refused.value.code == "invalid_sscc"


@pytest.mark.parametrize("text", ["", "12345678901234567", "(01)123456789012345678", "x" * 18])
def test_what_is_not_an_sscc(text: str) -> None:
    assert sscc_digits(text) is None


@given(st.integers(min_value=1, max_value=2**31 - 1), st.sampled_from(["{}", "#{}", " # {} "]))
def test_digits_are_a_parcel_id(number: int, form: str) -> None:
    assert classify(form.format(number)).parcel_id == number


@pytest.mark.parametrize("text", ["0", "2147483648", "12345678901", "12a", "-5"])
def test_what_is_not_a_parcel_id(text: str) -> None:
    assert classify(text).parcel_id is None


@pytest.mark.parametrize("text", ["", "  ", "\t\n", "x" * (MAX_QUERY_LENGTH + 1), "a\x00b"])
def test_blank_too_long_or_nul_queries_are_invalid(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        classify(text)
    assert refused.value.code == "invalid_query"
