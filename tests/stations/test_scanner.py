"""The handheld scanner: keyboard-wedge lines and serial ports, GS1 separators kept."""

import io
import os
import threading
import time

import pytest
import serial

from stations.events import Event, Scanned
from stations.scanner import SerialScanner, clean, read_wedge

GS = "\x1d"
GS1 = f"0109506000134352{GS}10ABC123{GS}17261231"


def codes(events: list[Event]) -> list[str]:
    assert all(isinstance(e, Scanned) and e.source == "scanner" for e in events)
    return [e.code for e in events if isinstance(e, Scanned)]


def test_each_line_is_one_scan() -> None:
    events: list[Event] = []
    stream = io.StringIO(f"4006381333931\n  SO-1001 \r\n\n   \n{GS1}\nLAST-WITHOUT-NEWLINE")

    read_wedge(stream, events.append)

    assert codes(events) == ["4006381333931", "SO-1001", GS1, "LAST-WITHOUT-NEWLINE"]


def test_bytes_crlf_and_a_lone_cr_end_scans() -> None:
    events: list[Event] = []
    stream = io.BytesIO(b"ONE\r\nTWO\rTHREE\n" + GS1.encode() + b"\r\n")

    read_wedge(stream, events.append)

    assert codes(events) == ["ONE", "TWO", "THREE", GS1]


def test_a_gs_at_either_end_is_not_whitespace() -> None:
    # str.strip() would eat GS: it counts the ASCII separators as whitespace.
    assert clean(f" {GS}0109506000134352{GS} \r\n") == f"{GS}0109506000134352{GS}"


@pytest.mark.parametrize("substitute", ["^]", "<GS>", "~"])
def test_a_wedge_substitute_becomes_gs(substitute: str) -> None:
    events: list[Event] = []
    line = GS1.replace(GS, substitute)

    read_wedge(io.StringIO(line + "\n"), events.append, gs_substitute=substitute)

    assert codes(events) == [GS1]


def test_an_empty_substitute_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be empty"):
        read_wedge(io.StringIO("x\n"), lambda e: None, gs_substitute="")


def test_a_pipe_is_read_until_stop_is_set() -> None:
    read_end, write_end = os.pipe()
    events: list[Event] = []
    stop = threading.Event()
    with open(read_end, encoding="utf-8") as stream:
        reader = threading.Thread(target=read_wedge, args=(stream, events.append, stop))
        reader.start()
        os.write(write_end, b"FIRST\nSEC")
        os.write(write_end, b"OND\n")
        deadline = time.monotonic() + 5
        while len(events) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()  # the writer is still open: only stop ends the reader
        reader.join(timeout=2)
        os.close(write_end)

    assert not reader.is_alive()
    assert codes(events) == ["FIRST", "SECOND"]


def test_a_serial_scanner_on_a_loopback_port() -> None:
    port = serial.serial_for_url("loop://", timeout=0.05)
    scanner = SerialScanner(port, gs_substitute="<GS>")
    events: list[Event] = []
    stop = threading.Event()
    runner = threading.Thread(target=scanner.run, args=(events.append, stop))
    runner.start()

    port.write(b"4006381333931\r")
    port.write(b"\nSO-10")  # the LF of a CRLF, then a scan cut in two reads
    time.sleep(0.1)
    port.write(b"01\r\n" + GS1.encode("latin-1") + b"\n")
    port.write(b"0109506000134352<GS>10ABC\r\n\r\n\xe9t\xe9\n")
    deadline = time.monotonic() + 5
    while len(events) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    runner.join(timeout=2)

    assert not runner.is_alive()
    assert codes(events) == [
        "4006381333931",
        "SO-1001",
        GS1,
        f"0109506000134352{GS}10ABC",
        "été",  # bytes read as Latin-1
    ]
    assert not port.is_open  # run() closes the port when it stops
