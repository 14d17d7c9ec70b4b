"""Barcodes: examples for each rule, and properties checked against biip as an oracle."""

import string
from datetime import date, timedelta

import pytest
from biip.checksums import gs1_standard_check_digit
from biip.upc import Upc
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qc.barcodes import (
    ScannedCode,
    expand_upce,
    gtin_check_digit,
    is_valid_gtin,
    normalize_catalogue_code,
    parse_scan,
    to_gtin14,
)
from qc.errors import InvalidBarcode

EAN13 = "4006381333931"
UPCA = "036000291452"
EAN8 = "96385074"
UPCE = "04252614"  # expands to 042100005264; not a valid EAN-8
AMBIGUOUS8 = "12345601"  # valid as EAN-8 and as UPC-E (123000004561)
GTIN = "09506000134352"  # GS1's own example GTIN
AI82 = string.digits + string.ascii_letters + "-./_"
TODAY = date.today()

# biip resolves two-digit years within a window around the current year.
expiry_dates = st.dates(date(TODAY.year - 40, 1, 1), date(TODAY.year + 40, 12, 31))
ai82_values = st.text(alphabet=AI82, min_size=1, max_size=20)
# Slow only on the first call, when biip loads its GS1 prefix tables.
biip_settings = settings(deadline=None)


def digits(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=string.digits, min_size=size, max_size=size)


@st.composite
def gtins(draw: st.DrawFn, length: int) -> str:
    body = draw(digits(length - 1))
    return body + str(gs1_standard_check_digit(body))


@st.composite
def upces(draw: st.DrawFn) -> str:
    # biip computes the check digit of a 7-digit UPC-E (number system and six digits).
    return Upc.parse(draw(st.sampled_from("01")) + draw(digits(6))).as_upc_e()


def with_wrong_last_digit(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


# -- check digits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    [("400638133393", 1), ("03600029145", 2), ("9638507", 4), ("10614141123456789", 7)],
)
def test_gtin_check_digit_of_real_codes(body: str, check: int) -> None:
    assert gtin_check_digit(body) == check


@pytest.mark.parametrize("body", ["", "12a4567", "١٢٣٤٥٦٧"])
def test_gtin_check_digit_refuses_non_digits(body: str) -> None:
    with pytest.raises(InvalidBarcode):
        gtin_check_digit(body)


@pytest.mark.parametrize("code", [EAN13, UPCA, EAN8, "0" + EAN13, "00" + UPCA])
def test_is_valid_gtin_accepts_real_codes(code: str) -> None:
    assert is_valid_gtin(code)


@pytest.mark.parametrize(
    "code", ["4006381333932", "40063813339", "123456789012345", "", "400638133393x", "²" * 8]
)
def test_is_valid_gtin_refuses_bad_codes(code: str) -> None:
    assert not is_valid_gtin(code)


@given(st.sampled_from([7, 11, 12, 13]).flatmap(digits), st.data())
def test_appended_check_digit_validates_and_any_one_digit_change_breaks_it(
    body: str, data: st.DataObject
) -> None:
    code = body + str(gtin_check_digit(body))
    assert is_valid_gtin(code)
    assert gtin_check_digit(body) == gs1_standard_check_digit(body)
    position = data.draw(st.integers(0, len(code) - 1))
    digit = data.draw(st.sampled_from(string.digits).filter(lambda d: d != code[position]))
    assert not is_valid_gtin(code[:position] + digit + code[position + 1 :])


# -- UPC-E and GTIN-14 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upce", "upca"),
    [
        (UPCE, "042100005264"),
        ("01234505", "012000003455"),
        ("01234531", "012300000451"),
        ("01234543", "012340000053"),
        ("01234565", "012345000065"),
        ("11234593", "112345000093"),
    ],
)
def test_expand_upce(upce: str, upca: str) -> None:
    assert expand_upce(upce) == upca


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("04252615", "check digit should be 4"),
        ("24252614", "number system 0 or 1"),
        ("4252614", "8 digits"),
        ("0425261x", "8 digits"),
    ],
)
def test_expand_upce_refuses_invalid_codes(code: str, message: str) -> None:
    with pytest.raises(InvalidBarcode, match=message):
        expand_upce(code)


@given(upces())
def test_expand_upce_agrees_with_biip(upce: str) -> None:
    assert expand_upce(upce) == Upc.parse(upce).as_upc_a()


@pytest.mark.parametrize(
    ("code", "gtin14"),
    [(EAN13, "04006381333931"), (UPCA, "00036000291452"), (EAN8, "00000096385074")],
)
def test_to_gtin14_left_pads(code: str, gtin14: str) -> None:
    assert to_gtin14(code) == gtin14


@pytest.mark.parametrize(
    ("code", "message"),
    [("4006381333932", "check digit should be 1"), ("12345", "8, 12, 13 or 14"), ("", "8, 12")],
)
def test_to_gtin14_refuses_invalid_codes(code: str, message: str) -> None:
    with pytest.raises(InvalidBarcode, match=message):
        to_gtin14(code)


@given(gtins(12))
def test_every_spelling_of_a_upc_a_is_the_same_gtin14(upca: str) -> None:
    key = to_gtin14(upca)
    assert key == to_gtin14("0" + upca) == to_gtin14("00" + upca)
    assert key == normalize_catalogue_code(upca) == normalize_catalogue_code("0" + upca)


# -- normalize_catalogue_code --------------------------------------------------------------


@pytest.mark.parametrize("code", [UPCA, "0" + UPCA, "00" + UPCA, f" {UPCA}\n"])
def test_catalogue_upc_a_spellings_normalise_alike(code: str) -> None:
    assert normalize_catalogue_code(code) == "00036000291452"


@pytest.mark.parametrize(
    ("code", "symbology", "key"),
    [
        (EAN8, None, "00000096385074"),
        (UPCE, None, "00042100005264"),
        (AMBIGUOUS8, None, "00000012345601"),
        (AMBIGUOUS8, "ean8", "00000012345601"),
        (AMBIGUOUS8, "upce", "00123000004561"),
        (UPCE, "upce", "00042100005264"),
    ],
)
def test_catalogue_eight_digit_codes(code: str, symbology: str | None, key: str) -> None:
    assert normalize_catalogue_code(code, symbology=symbology) == key


@pytest.mark.parametrize(
    ("code", "symbology", "message"),
    [
        ("4006381333932", None, "check digit should be 1"),
        ("036000291453", None, "check digit should be 2"),
        ("96385075", None, "check digit should be 4"),
        ("04252615", None, "or 4 as UPC-E"),
        (UPCE, "ean8", "check digit should be 0"),
        (EAN8, "upce", "number system 0 or 1"),
        (EAN8, "qr", "'ean8', 'upce'"),
        (EAN13, "ean8", "only for 8-digit codes"),
        ("SKU-1", "upce", "only for 8-digit codes"),
        ("   ", None, "empty"),
        ("X" * 65, None, "at most 64"),
        ("SKU\x00-1", None, "control characters"),
        ("SKU\t1", None, "control characters"),
        ("01\x1d10ABC", None, "control characters"),
    ],
)
def test_catalogue_refuses(code: str, symbology: str | None, message: str) -> None:
    with pytest.raises(InvalidBarcode, match=message):
        normalize_catalogue_code(code, symbology=symbology)


@pytest.mark.parametrize(
    ("code", "key"),
    [
        ("SKU-0042", "SKU-0042"),
        ("  INT000123 \n", "INT000123"),
        ("12345", "12345"),
        ("4252614", "4252614"),  # 6- and 7-digit UPC-E forms are internal codes
        ("425261", "425261"),
        ("abcDEF", "abcDEF"),
        ("12345678901", "12345678901"),
        ("١٢٣٤٥٦٧٨", "١٢٣٤٥٦٧٨"),
        ("X" * 64, "X" * 64),
    ],
)
def test_catalogue_keeps_internal_codes(code: str, key: str) -> None:
    assert normalize_catalogue_code(code) == key


@given(st.sampled_from([12, 13, 14]).flatmap(gtins))
def test_a_wrong_check_digit_is_refused_naming_the_right_one(code: str) -> None:
    with pytest.raises(InvalidBarcode, match=f"check digit should be {code[-1]}"):
        normalize_catalogue_code(with_wrong_last_digit(code))
    assert parse_scan(with_wrong_last_digit(code)).gtin is None


@biip_settings
@given(st.sampled_from([8, 12, 13, 14]).flatmap(digits))
def test_a_registered_gs1_code_is_found_by_scanning_it(code: str) -> None:
    scan = parse_scan(code)
    try:
        key = normalize_catalogue_code(code)
    except InvalidBarcode:
        assert scan.gtin is None
    else:
        assert scan.gtin == key


@given(st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=64))
def test_a_registered_internal_code_is_found_by_scanning_it(code: str) -> None:
    assume(not (code.isdigit() and len(code) in (8, 12, 13, 14)))
    assume(not code.startswith(("00", "01")))
    assert parse_scan(code).lookup_keys == (normalize_catalogue_code(code),)


# -- parse_scan: plain codes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "gtin"),
    [
        (EAN13, "04006381333931"),
        (UPCA, "00036000291452"),
        ("0" + UPCA, "00036000291452"),
        ("00" + UPCA, "00036000291452"),
        (EAN13 + "\r\n", "04006381333931"),
        (f"]E0{EAN13}", "04006381333931"),
        (f"]E00{UPCA}", "00036000291452"),
        (f"]E3{EAN13}", "04006381333931"),
        (f"]E3{EAN13}12", "04006381333931"),
        (f"]E3{EAN13}51234", "04006381333931"),
        (f"]E0{UPCE}", "00042100005264"),
        (f"]E4{EAN8}", "00000096385074"),
        ("]I114006381333938", "14006381333938"),
        (f"]C0{UPCA}", "00036000291452"),
    ],
)
def test_scan_of_a_gtin(value: str, gtin: str) -> None:
    scan = parse_scan(value)
    assert (scan.gtin, scan.gtin_alternatives) == (gtin, ())
    assert scan.lookup_keys == (gtin,)


@pytest.mark.parametrize(
    ("value", "readings"),
    [
        (EAN8, ("00000096385074",)),
        (UPCE, ("00042100005264",)),
        (AMBIGUOUS8, ("00000012345601", "00123000004561")),
    ],
)
def test_scan_of_eight_digits_lists_every_valid_reading(
    value: str, readings: tuple[str, ...]
) -> None:
    scan = parse_scan(value)
    assert (scan.gtin, *scan.gtin_alternatives) == readings
    assert scan.lookup_keys == readings


def test_bare_ai_01_is_a_gtin() -> None:
    # A GS1-128 case label carrying only AI 01, from a scanner with symbology identifiers off.
    assert parse_scan("0109506000134352").gtin == "09506000134352"
    assert parse_scan("0109506000134353").gtin is None  # bad check digit: an internal code


@pytest.mark.parametrize(
    "value",
    [
        "4006381333932",
        f"]E0{EAN8}",  # not a UPC-E: the symbology rules out the EAN-8 reading
        f"]E4{UPCE}",
        "96385075",
        "SKU-0042",
        "12345",
        "4252614",
    ],
)
def test_scan_of_an_internal_or_invalid_code(value: str) -> None:
    scan = parse_scan(value)
    assert scan == ScannedCode(
        raw=value, text=value.removeprefix(scan.symbology or ""), symbology=scan.symbology
    )
    assert scan.lookup_keys == (scan.text,)


@pytest.mark.parametrize(
    ("value", "symbology", "text"),
    [
        ("]C0ABC-1", "]C0", "ABC-1"),
        ("]A0HELLO", "]A0", "HELLO"),
        ("]Q1https://example.com/x", "]Q1", "https://example.com/x"),
        ("]d1SKU 42", "]d1", "SKU 42"),
        ("]I0123", "]I0", "123"),
        ("]e0", "]e0", ""),
        ("]", None, "]"),
        ("]1A0", None, "]1A0"),
        ("  ]E0SKU\r\n", "]E0", "SKU"),
    ],
)
def test_scan_records_and_removes_the_symbology_identifier(
    value: str, symbology: str | None, text: str
) -> None:
    scan = parse_scan(value)
    assert (scan.raw, scan.symbology, scan.text) == (value.strip(), symbology, text)


def test_scan_keeps_internal_group_separators_and_drops_line_ends() -> None:
    scan = parse_scan(" ]C1\x1d0109506000134352\x1d10AB\r\n")
    assert scan.raw == "]C1\x1d0109506000134352\x1d10AB"
    assert (scan.gtin, scan.lot) == (GTIN, "AB")


def test_empty_scan_has_no_lookup_keys() -> None:
    assert parse_scan(" \r\n") == ScannedCode(raw="", text="", symbology=None)
    assert parse_scan("]C0").lookup_keys == ()


# -- parse_scan: GS1 element strings -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "gtin", "lot", "expiry", "serial"),
    [
        (f"]C101{GTIN}17251231103ABC", GTIN, "3ABC", date(2025, 12, 31), None),
        (f"01{GTIN}172512311012AB", GTIN, "12AB", date(2025, 12, 31), None),
        (f"(01){GTIN}(17)251231(10)ABC", GTIN, "ABC", date(2025, 12, 31), None),
        (f"(01) {GTIN} (10) ABC", GTIN, "ABC", None, None),
        (f"]d201{GTIN}10LOT-7\x1d21S/42", GTIN, "LOT-7", None, "S/42"),
        (f"\x1d01{GTIN}21XYZ", GTIN, None, None, "XYZ"),
        (f"]Q3\x1d01{GTIN}17240200", GTIN, None, date(2024, 2, 29), None),  # day 00: month end
        (f"]e001{GTIN}17250200", GTIN, None, date(2025, 2, 28), None),
        ("010703206980498815210526100329", "07032069804988", "0329", None, None),  # AI 15 ignored
        (f"]C101{GTIN}3103000189\x1d21S1", GTIN, None, None, "S1"),  # net weight ignored
        (f"]J1(01){GTIN}(3922)0299(21)S1", GTIN, None, None, "S1"),
    ],
)
def test_scan_of_gs1_element_strings(
    value: str, gtin: str, lot: str | None, expiry: date | None, serial: str | None
) -> None:
    scan = parse_scan(value)
    found = (scan.gtin, scan.lot, scan.expiry, scan.serial, scan.sscc)
    assert found == (gtin, lot, expiry, serial, None)
    assert scan.lookup_keys == (gtin,)


@pytest.mark.parametrize("value", ["00106141411234567897", "]C100106141411234567897"])
def test_scan_of_an_sscc(value: str) -> None:
    scan = parse_scan(value)
    assert (scan.sscc, scan.gtin) == ("106141411234567897", None)


@pytest.mark.parametrize(
    "value",
    [
        f"]C101{GTIN[:-1]}3172512311012AB",  # bad check digit in AI 01
        "]C100106141411234567898",  # bad check digit in AI 00
        f"]C101{GTIN}17251331",  # month 13
        f"(01){GTIN}(17)250230",  # 30 February
        f"01{GTIN}10{'L' * 21}",  # lot longer than 20
        f"]C101{GTIN}\x1dhello",
        "]C1HELLO",
        "]d2",
        f"(01){GTIN}(10)",
        "\x1d",
        "(99",
    ],
)
def test_scan_of_invalid_gs1_data_is_an_unknown_code(value: str) -> None:
    scan = parse_scan(value)
    assert (scan.gtin, scan.lot, scan.expiry, scan.serial, scan.sscc) == (None,) * 5
    assert scan.text == value.removeprefix(scan.symbology or "")


def yymmdd(day: date, *, month_end_as_00: bool) -> str:
    if month_end_as_00 and (day + timedelta(days=1)).day == 1:
        return day.strftime("%y%m00")
    return day.strftime("%y%m%d")


@biip_settings
@given(
    gtin=gtins(14),
    expiry=expiry_dates,
    lot=ai82_values,
    serial=ai82_values,
    month_end_as_00=st.booleans(),
    prefix=st.sampled_from(["", "]C1", "]d2", "]Q3", "]C1\x1d", "\x1d"]),
)
def test_gs1_element_strings_round_trip_in_every_spelling(
    gtin: str, expiry: date, lot: str, serial: str, month_end_as_00: bool, prefix: str
) -> None:
    when = yymmdd(expiry, month_end_as_00=month_end_as_00)
    spellings = {
        "separated": (f"{prefix}01{gtin}17{when}10{lot}\x1d21{serial}", lot, serial),
        "hri": (f"(01){gtin}(17){when}(10){lot}(21){serial}", lot, serial),
        "lot last": (f"{prefix}01{gtin}17{when}10{lot}", lot, None),
        "serial last": (f"{prefix}01{gtin}17{when}21{serial}", None, serial),
    }
    for value, want_lot, want_serial in spellings.values():
        scan = parse_scan(value)
        found = (scan.gtin, scan.expiry, scan.lot, scan.serial)
        assert found == (gtin, expiry, want_lot, want_serial), value


@given(upces())
def test_upce_scan_round_trips(upce: str) -> None:
    assert parse_scan("]E0" + upce).gtin == to_gtin14(expand_upce(upce))


# -- parse_scan never raises ---------------------------------------------------------------

scanner_like = st.builds(
    "".join,
    st.lists(
        st.sampled_from(["]", "]C1", "]E0", "]E4", "]d2", "(01)", "(17)", "(10)", "01", "00", "17"])
        | st.sampled_from(["10", "21", "\x1d", "(", ")", " ", "\r\n", GTIN, UPCE, EAN8, "13"])
        | st.text(alphabet=string.digits + "A-./\x1d", max_size=8),
        max_size=8,
    ),
)


def assert_sound(scan: ScannedCode) -> None:
    readings = (scan.gtin, *scan.gtin_alternatives) if scan.gtin is not None else ()
    assert all(len(gtin) == 14 and is_valid_gtin(gtin) for gtin in readings)
    assert scan.gtin is not None or not scan.gtin_alternatives
    assert scan.sscc is None or (len(scan.sscc) == 18 and scan.sscc.isdigit())


@biip_settings
@given(st.text())
def test_parse_scan_never_raises_on_any_text(value: str) -> None:
    assert_sound(parse_scan(value))


@biip_settings
@given(scanner_like)
def test_parse_scan_never_raises_on_scanner_like_text(value: str) -> None:
    assert_sound(parse_scan(value))
