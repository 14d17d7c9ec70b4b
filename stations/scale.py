"""The bench scale: a serial scale's stable readings, or a weight the packer types.

Scale output read by `parse_weight` (one reading a line, case ignored):

- status-prefixed, as A&D, Ohaus and many OEM indicators send: `ST,GS,+  1.234kg` (ST stable,
  US unstable, OL overload; GS gross, NT net), only ST is a reading;
- Mettler Toledo MT-SICS: `S S      1.234 kg` (stable) and `S D      1.234 kg` (dynamic);
- a bare value with a unit, with or without a sign or a label: `  1234 g`, `W 0.500 kg`,
  `+0001.25 lb`, `12.5 oz`; a `?` anywhere marks it unstable (CAS, Dibal).

Units: g, kg, lb (lbs), oz; a reading without a unit is refused rather than guessed. Negative
readings (a tare gone wrong), overloads and anything else give None.
"""

import re
import threading
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from stations.events import Emit, Weighed
from stations.scanner import READ_TIMEOUT_S, SerialLike, serial_lines


class WritableSerial(SerialLike, Protocol):
    """A serial device that can also be written to (to poll a scale)."""

    def write(self, data: bytes, /) -> int | None: ...


MAX_GRAMS = 1_000_000  # a tonne: beyond that a reading or a typed number is not a parcel
SAME_GRAMS = 2  # readings this close are the same weight
_GRAMS = {"g": Decimal(1), "gr": Decimal(1), "kg": Decimal(1000), "lb": Decimal("453.59237"),
          "lbs": Decimal("453.59237"), "oz": Decimal("28.349523125")}  # fmt: skip
_VALUE = re.compile(
    r"([+-]?)\s*(?<![0-9.])([0-9]{1,9}(?:\.[0-9]{1,6})?)\s*(kg|lbs|lb|oz|gr|g)\b", re.I | re.A
)
_UNSTABLE = re.compile(r"^\s*(US|OL|S\s+D|S\s+[+-]|S\s+I)\b|\?", re.I | re.A)
_TYPED = re.compile(r"([0-9]{1,9})(?:[.,]([0-9]{1,6}))?\s*(kg|lbs|lb|oz|gr|g|grams?)?", re.I | re.A)


def _grams(value: Decimal, unit: str) -> int | None:
    grams = int((value * _GRAMS[unit]).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return grams if 0 <= grams <= MAX_GRAMS else None


def parse_weight(line: str) -> int | None:
    """Grams from one line of scale output, for a stable reading only (formats: see module).

    Returns:
        The weight in grams, rounded; None for an unstable, negative, overloaded or
        unreadable reading.
    """
    if _UNSTABLE.search(line):
        return None
    match = _VALUE.search(line)
    if match is None or match.group(1) == "-":
        return None
    return _grams(Decimal(match.group(2)), match.group(3).lower())


def parse_typed_weight(text: str) -> int | None:
    """Grams from what a packer typed: "1234", "1234 g", "1.2 kg", "1,2 kg", "2.5 lb".

    A number without a unit is grams. Grams must be whole: "1.2" alone could mean kilograms,
    and "1,234 g" a thousands separator or a decimal comma, so they are refused, not guessed.

    Returns:
        The weight in grams, more than 0; None when the text is not a weight.
    """
    match = _TYPED.fullmatch(text.strip())
    if match is None:
        return None
    whole, fraction, unit = match.groups()
    unit = (unit or "g").lower()
    unit = "g" if unit.startswith("gr") else unit
    if unit == "g" and fraction is not None:  # "1,234 g": thousands or decimals? Ask again.
        return None
    grams = _grams(Decimal(f"{whole}.{fraction or 0}"), unit)
    return grams if grams else None


class Settled:
    """Turns a stream of readings into the weights to report: stable, held, and changed.

    A weight is reported when two readings in a row agree (within SAME_GRAMS) and differ from
    the last settled weight by more than SAME_GRAMS. An empty platform settles too (so the same
    parcel weighed twice counts twice) but is not reported.
    """

    def __init__(self) -> None:
        self._previous: int | None = None
        self._settled: int | None = None

    def feed(self, grams: int | None) -> int | None:
        """One reading (None: unstable or unreadable); the weight to report, if any."""
        held = (
            grams is not None
            and self._previous is not None
            and abs(grams - self._previous) <= SAME_GRAMS
        )
        self._previous = grams
        if not held or grams is None:
            return None
        if self._settled is not None and abs(grams - self._settled) <= SAME_GRAMS:
            return None
        self._settled = grams
        return grams if grams > SAME_GRAMS else None


class SerialScale:
    """A scale on a serial port that sends readings continuously or when polled.

    Args:
        device: an open `serial.Serial`-like device with a read timeout.
        poll: a command that asks for a reading (e.g. b"W\\r", b"SI\\r\\n"), sent every
            `poll_every_s`; None for a scale that streams its readings.
    """

    def __init__(
        self, device: WritableSerial, *, poll: bytes | None = None, poll_every_s: float = 0.5
    ) -> None:
        self.device = device
        self.poll = poll
        self.poll_every_s = poll_every_s

    @classmethod
    def from_port(
        cls, port: str, baudrate: int = 9600, *, poll: bytes | None = None
    ) -> "SerialScale":
        """Open a serial port at 8N1.

        Raises:
            serial.SerialException: the port does not exist or is busy.
        """
        import serial

        return cls(serial.Serial(port, baudrate, timeout=READ_TIMEOUT_S), poll=poll)

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Emit `Weighed(grams)` for each settled weight until `stop` is set; closes the device.

        Raises:
            serial.SerialException: the port failed.
        """
        settled = Settled()
        done = threading.Event()  # the poller's own: `stop` may be shared with other devices
        poller = threading.Thread(target=self._poll, args=(stop, done), daemon=True)
        if self.poll is not None:
            poller.start()
        try:
            for line in serial_lines(self.device, stop):
                grams = settled.feed(parse_weight(line))
                if grams is not None:
                    emit(Weighed(grams))
        finally:
            done.set()
            if poller.is_alive():
                poller.join()
            self.device.close()

    def _poll(self, stop: threading.Event, done: threading.Event) -> None:
        while self.poll is not None and not (stop.is_set() or done.is_set()):
            self.device.write(self.poll)
            done.wait(self.poll_every_s)
