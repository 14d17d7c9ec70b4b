"""The bench scale: readings parsed from common formats, settled, and typed weights."""

import threading
import time

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from stations.events import Event, Weighed
from stations.scale import SerialScale, Settled, parse_typed_weight, parse_weight


@pytest.mark.parametrize(
    ("line", "grams"),
    [
        ("ST,GS,+  1.234kg", 1234),
        ("ST,NT,+0000.500kg\r\n", 500),
        ("US,GS,+  1.234kg", None),  # unstable
        ("OL,GS,+99.999kg", None),  # overload
        ("ST,GS,-  0.010kg", None),  # negative
        ("  1234 g", 1234),
        ("W 0.500 kg", 500),
        ("+0001.25 lb", 567),  # 566.99 g
        ("12.5 oz", 354),
        ("S S      1.234 kg", 1234),  # MT-SICS stable
        ("S D      1.234 kg", None),  # MT-SICS dynamic
        ("   2.100kg ?", None),  # unstable mark
        ("1234", None),  # no unit: not guessed
        ("12345678901 g", None),  # not a number a scale sends
        ("garbage", None),
        ("", None),
    ],
)
def test_parse_weight(line: str, grams: int | None) -> None:
    assert parse_weight(line) == grams


@given(st.text())
def test_parse_weight_never_raises(text: str) -> None:
    result = parse_weight(text)
    assert result is None or result >= 0


@pytest.mark.parametrize(
    ("text", "grams"),
    [
        ("1234", 1234),
        ("1234 g", 1234),
        (" 1234g ", 1234),
        ("1234 grams", 1234),
        ("1.2 kg", 1200),
        ("1,2 kg", 1200),
        ("1,234kg", 1234),
        ("2 lb", 907),
        ("12.5 oz", 354),
        ("1.2", None),  # kilograms or grams? ask again
        ("1,234 g", None),  # a thousands separator or a decimal comma? ask again
        ("0", None),
        ("-5", None),
        ("12 apples", None),
        ("", None),
    ],
)
def test_parse_typed_weight(text: str, grams: int | None) -> None:
    assert parse_typed_weight(text) == grams


@given(st.integers(min_value=1, max_value=100_000))
def test_a_typed_whole_number_is_grams(grams: int) -> None:
    assert parse_typed_weight(str(grams)) == grams


@given(st.text())
def test_parse_typed_weight_never_raises(text: str) -> None:
    result = parse_typed_weight(text)
    assert result is None or result > 0


def test_settled_reports_held_changed_weights_only() -> None:
    settled = Settled()
    readings = [0, 0, None, 1230, 1234, 1235, 1234, None, 1234, 0, 0, 1234, 1233, 2500, 2501]

    reported = [settled.feed(r) for r in readings]

    # 1230 then 1234 do not agree (4 g apart); 1234 then 1235 do. The empty platform settles
    # without a report; the same parcel put back counts again; a new weight counts.
    assert [g for g in reported if g is not None] == [1235, 1233, 2501]


def test_a_serial_scale_emits_stable_changed_readings() -> None:
    port = serial.serial_for_url("loop://", timeout=0.05)
    scale = SerialScale(port)
    events: list[Event] = []
    stop = threading.Event()
    runner = threading.Thread(target=scale.run, args=(events.append, stop))
    runner.start()

    for line in ["ST,GS,+  0.000kg", "ST,GS,+  0.000kg", "US,GS,+  0.800kg", "ST,GS,+  1.234kg",
                 "ST,GS,+  1.235kg", "ST,GS,+  1.234kg", "US,GS,+  1.234kg"]:  # fmt: skip
        port.write(line.encode() + b"\r\n")
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    stop.set()
    runner.join(timeout=2)

    assert not runner.is_alive()
    assert [e.grams for e in events if isinstance(e, Weighed)] == [1235]


def test_a_polled_scale_is_asked_for_readings() -> None:
    port = serial.serial_for_url("loop://", timeout=0.05)  # the poll comes back as a reply
    scale = SerialScale(port, poll=b"S S 0.750 kg\r\n", poll_every_s=0.02)
    events: list[Event] = []
    stop = threading.Event()
    runner = threading.Thread(target=scale.run, args=(events.append, stop))
    runner.start()
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    runner.join(timeout=2)

    assert [e.grams for e in events if isinstance(e, Weighed)] == [750]
