"""Barcode normalisation and scan parsing for the packing station.

Two entry points share one idea of what a valid GTIN is: normalize_catalogue_code()
turns the barcode entered when a product is registered into its catalogue key, and
parse_scan() turns whatever a bench scanner or camera sends into the same keys plus
the lot, expiry and serial data of GS1 element strings (decoded with biip).
"""

import datetime
import re
import unicodedata
from dataclasses import dataclass

from biip import ParseError
from biip.gs1_messages import GS1Message

from qc.errors import InvalidBarcode

GS = "\x1d"
MAX_CODE_LENGTH = 64
GTIN_LENGTHS = (8, 12, 13, 14)
CATALOGUE_SYMBOLOGIES = ("ean8", "upce")

# Scanners end a read with CR/LF and some pad it; GS stands for FNC1 and is data.
_SCAN_PADDING = " \t\r\n\v\f"
_SYMBOLOGY_ID = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_GS1_SYMBOLOGIES = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})
_HRI_START = re.compile(r"\(\d{2,4}\)", re.ASCII)
# Without a symbology identifier or separators, only these openings are
# unambiguous enough to be read as GS1 element strings rather than internal codes.
_BARE_GS1_START = re.compile(r"01\d{14}|00\d{18}", re.ASCII)


@dataclass(frozen=True)
class ScannedCode:
    """What one scan means to the catalogue; see parse_scan()."""

    raw: str  # the scan without surrounding whitespace, CR and LF
    text: str  # raw without its symbology identifier
    symbology: str | None  # ISO/IEC 15424 identifier such as "]E0" or "]d2"
    gtin: str | None = None  # GTIN-14, from the code itself or its AI 01
    gtin_alternatives: tuple[str, ...] = ()  # other readings of an 8-digit code
    lot: str | None = None  # AI 10
    expiry: datetime.date | None = None  # AI 17
    serial: str | None = None  # AI 21
    sscc: str | None = None  # AI 00

    @property
    def lookup_keys(self) -> tuple[str, ...]:
        """Catalogue keys to try, best first: gtin, gtin_alternatives, else text."""
        if self.gtin is not None:
            return (self.gtin, *self.gtin_alternatives)
        return (self.text,) if self.text else ()


def _is_digits(value: str) -> bool:
    """Tell whether value is a non-empty run of ASCII digits."""
    # str.isdigit() alone accepts '²' and non-Latin digits, which no barcode encodes.
    return value.isascii() and value.isdigit()


def gtin_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for the digits of a GTIN without its check digit.

    Args:
        body: The 7, 11, 12 or 13 digits before the check digit (17 for an SSCC).

    Returns:
        The check digit, 0 to 9.

    Raises:
        InvalidBarcode: If body is not a non-empty run of ASCII digits.
    """
    if not _is_digits(body):
        raise InvalidBarcode(f"{body!r} is not a run of digits, so it has no check digit.")
    # Weights alternate 3, 1, 3, ... from the digit next to the check digit, which
    # is what makes left-padding with zeros harmless.
    total = sum(int(digit) * (3 - 2 * (i % 2)) for i, digit in enumerate(reversed(body)))
    return -total % 10


def _has_check_digit(digits: str) -> bool:
    """Tell whether the last of these ASCII digits is the check digit of the others."""
    return gtin_check_digit(digits[:-1]) == int(digits[-1])


def is_valid_gtin(digits: str) -> bool:
    """Tell whether digits is an 8, 12, 13 or 14-digit GTIN with a correct check digit."""
    return len(digits) in GTIN_LENGTHS and _is_digits(digits) and _has_check_digit(digits)


def _wrong_check_digit(what: str, expected: object) -> InvalidBarcode:
    """Build the error for a code whose last digit is not its check digit."""
    return InvalidBarcode(f"{what} has a wrong check digit: the check digit should be {expected}.")


def _upce_body(code: str) -> str:
    """Expand an 8-digit UPC-E to the 11 digits of its UPC-A, without the check digit."""
    number_system, d, last = code[0], code[1:7], code[6]
    if last in "012":
        return number_system + d[:2] + last + "0000" + d[2:5]
    if last == "3":
        return number_system + d[:3] + "00000" + d[3:5]
    if last == "4":
        return number_system + d[:4] + "00000" + d[4]
    return number_system + d[:5] + "0000" + last


def expand_upce(code: str) -> str:
    """Expand an 8-digit UPC-E (number system 0 or 1, six digits, check digit) to UPC-A.

    Args:
        code: The UPC-E; its check digit is that of the UPC-A it stands for.

    Returns:
        The 12-digit UPC-A.

    Raises:
        InvalidBarcode: If code is not 8 digits, its number system is not 0 or 1, or
            its check digit is wrong.
    """
    if len(code) != 8 or not _is_digits(code):
        raise InvalidBarcode(f"A UPC-E code has 8 digits, and {code!r} does not.")
    if code[0] not in "01":
        raise InvalidBarcode(f"UPC-E {code} must start with number system 0 or 1.")
    upc_a = _upce_body(code) + code[7]
    if not _has_check_digit(upc_a):
        raise _wrong_check_digit(f"UPC-E {code}", gtin_check_digit(upc_a[:-1]))
    return upc_a


def _upce_gtin14(code: str) -> str | None:
    """Return the GTIN-14 of a valid UPC-E, else None."""
    try:
        return expand_upce(code).zfill(14)
    except InvalidBarcode:
        return None


def to_gtin14(digits: str) -> str:
    """Left-pad a valid 8, 12, 13 or 14-digit GTIN to the 14 digits it is stored as.

    Args:
        digits: The GTIN, check digit included.

    Returns:
        The GTIN-14.

    Raises:
        InvalidBarcode: If digits is not 8, 12, 13 or 14 digits or its check digit is wrong.
    """
    if len(digits) not in GTIN_LENGTHS or not _is_digits(digits):
        raise InvalidBarcode(f"A GTIN has 8, 12, 13 or 14 digits, and {digits!r} does not.")
    if not _has_check_digit(digits):
        raise _wrong_check_digit(f"GTIN {digits}", gtin_check_digit(digits[:-1]))
    return digits.zfill(14)


def _normalize_eight_digits(code: str, symbology: str | None) -> str:
    """Read an 8-digit code as EAN-8 or UPC-E, as symbology says or else as is valid."""
    if symbology == "ean8" or (symbology is None and is_valid_gtin(code)):
        return to_gtin14(code)
    if symbology == "upce":
        return to_gtin14(expand_upce(code))
    upce = _upce_gtin14(code)
    if upce is not None:
        return upce
    expected = f"{gtin_check_digit(code[:-1])} as EAN-8"
    if code[0] in "01":
        expected += f" or {gtin_check_digit(_upce_body(code))} as UPC-E"
    raise _wrong_check_digit(f"Barcode {code}", expected)


def normalize_catalogue_code(code: str, *, symbology: str | None = None) -> str:
    """Turn the barcode entered for a product into its catalogue key.

    Args:
        code: The barcode as typed or pasted; surrounding whitespace is ignored.
        symbology: "ean8" or "upce" to say how to read an 8-digit code, None to take
            whichever reading is valid (EAN-8 first).

    Returns:
        The GTIN-14 of an 8, 12, 13 or 14-digit GS1 code, else the stripped code
        unchanged (an internal code).

    Raises:
        InvalidBarcode: If the code is empty, too long, contains control characters or
            has a wrong check digit, or symbology is unknown or given for a code that
            is not 8 digits.
    """
    if symbology is not None and symbology not in CATALOGUE_SYMBOLOGIES:
        raise InvalidBarcode(f"Unknown symbology {symbology!r}: use 'ean8', 'upce' or none.")
    code = code.strip()
    if not code:
        raise InvalidBarcode("The barcode is empty.")
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidBarcode(f"A barcode is at most {MAX_CODE_LENGTH} characters long.")
    if any(unicodedata.category(char) == "Cc" for char in code):
        raise InvalidBarcode("The barcode contains control characters.")
    is_gs1 = len(code) in GTIN_LENGTHS and _is_digits(code)
    if symbology is not None and not (is_gs1 and len(code) == 8):
        raise InvalidBarcode(f"Symbology {symbology!r} is only for 8-digit codes, not {code!r}.")
    if not is_gs1:
        return code
    if len(code) == 8:
        return _normalize_eight_digits(code, symbology)
    return to_gtin14(code)


def _plain_gtins(text: str, symbology: str | None) -> tuple[str, ...]:
    """Every GTIN-14 reading of a scan that is not GS1 element strings, best first."""
    if not _is_digits(text):
        return ()
    if symbology == "]E3" and len(text) in (15, 18):
        text = text[:13]  # a 2- or 5-digit add-on (issue number, price) is not the item
    as_gtin = text.zfill(14) if is_valid_gtin(text) else None
    readings: tuple[str | None, ...]
    if len(text) != 8 or symbology == "]E4":
        readings = (as_gtin,)
    elif symbology == "]E0":
        readings = (_upce_gtin14(text),)
    else:
        readings = (as_gtin, _upce_gtin14(text))
    return tuple(dict.fromkeys(gtin for gtin in readings if gtin is not None))


def _is_gs1_message(text: str, symbology: str | None) -> bool:
    """Tell whether a scan should be decoded as GS1 element strings."""
    return (
        symbology in _GS1_SYMBOLOGIES
        or GS in text
        or _HRI_START.match(text) is not None
        or _BARE_GS1_START.match(text) is not None
    )


def _gs1_message(text: str) -> GS1Message | None:
    """Decode GS1 element strings, plain or parenthesised; None when malformed."""
    payload = text.lstrip(GS)  # a leading FNC1 sent as GS is a separator, not data
    if not payload.isascii():
        return None  # GS1 data is ASCII, and biip's \d patterns would take other digits
    try:
        if not payload.startswith("("):
            return GS1Message.parse(payload)
        message = GS1Message.parse_hri(payload)
    except ParseError:
        return None
    # biip skips what its HRI pattern does not match, such as an AI with no data.
    return message if message.as_hri() == "".join(payload.split()) else None


def _scan_from_gs1(raw: str, text: str, symbology: str | None) -> ScannedCode:
    """Build the ScannedCode of GS1 element strings, with no GS1 fields when invalid."""
    unknown = ScannedCode(raw=raw, text=text, symbology=symbology)
    message = _gs1_message(text)
    if message is None:
        return unknown
    found = {ai: message.element_strings.get(ai=ai) for ai in ("00", "01", "10", "17", "21")}
    gtin = found["01"].value if found["01"] else None
    sscc = found["00"].value if found["00"] else None
    # biip notes a bad check digit instead of raising; such a code is unknown as a whole.
    if gtin is not None and not is_valid_gtin(gtin):
        return unknown
    if sscc is not None and not (_is_digits(sscc) and _has_check_digit(sscc)):
        return unknown
    return ScannedCode(
        raw=raw,
        text=text,
        symbology=symbology,
        gtin=gtin,
        lot=found["10"].value if found["10"] else None,
        expiry=found["17"].date if found["17"] else None,
        serial=found["21"].value if found["21"] else None,
        sscc=sscc,
    )


def parse_scan(value: str) -> ScannedCode:
    """Interpret what a bench scanner or camera sent; never raises.

    Args:
        value: The scan, maybe with CR/LF around it and a symbology identifier such
            as "]E0" or "]d2" in front.

    Returns:
        The scan with any GTIN-14, lot, expiry, serial and SSCC found in it. A code
        that is not a valid GS1 code has gtin None: it is an internal code.
    """
    raw = value.strip(_SCAN_PADDING)
    match = _SYMBOLOGY_ID.match(raw)
    symbology = match.group() if match else None
    text = raw[match.end() :] if match else raw
    if _is_gs1_message(text, symbology):
        return _scan_from_gs1(raw, text, symbology)
    gtins = _plain_gtins(text, symbology)
    return ScannedCode(
        raw=raw,
        text=text,
        symbology=symbology,
        gtin=gtins[0] if gtins else None,
        gtin_alternatives=gtins[1:],
    )
