"""The handheld scanner: a keyboard wedge (lines on standard input or a tty) or a serial port.

One line is one scan. GS1 data keeps its group separators (ASCII GS, 0x1D) where the device
sends them: `qc.barcodes` needs them to find where a variable-length field ends. Many keyboard
wedges cannot type GS and are set up to send a substitute ("^]", "<GS>", "~"…) instead;
`gs_substitute` turns it back into GS. Only spaces and tabs are stripped around a scan, never
`str.strip()`'s whitespace, which counts GS (and the other ASCII separators) as whitespace.
"""

import logging
import os
import re
import select
import threading
from collections.abc import Iterator
from typing import IO, Protocol

from stations.events import Emit, Scanned

log = logging.getLogger(__name__)

GS = "\x1d"
READ_TIMEOUT_S = 0.1  # serial and tty reads wake this often to see whether to stop
_LINE_END = re.compile(r"[\r\n]+")


class SerialLike(Protocol):
    """What is used of a `serial.Serial`: reads that time out, and closing."""

    @property
    def in_waiting(self) -> int: ...
    def read(self, size: int = 1) -> bytes: ...
    def close(self) -> None: ...


def clean(raw: str, gs_substitute: str | None = None) -> str:
    """One scan's text: the GS substitute made GS, surrounding spaces and tabs removed."""
    if gs_substitute:
        raw = raw.replace(gs_substitute, GS)
    return raw.strip(" \t\r\n")


def _text(raw: str | bytes) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_wedge(
    stream: IO[str] | IO[bytes],
    emit: Emit,
    stop: threading.Event | None = None,
    *,
    gs_substitute: str | None = None,
) -> None:
    """Read keyboard-wedge scans, one a line, until end of input or `stop` is set.

    A stream on a file descriptor (standard input, a tty, a pipe) is read directly from the
    descriptor, waking every READ_TIMEOUT_S to look at `stop`; other streams (StringIO…) are
    read line by line. Bytes are read as UTF-8, or Latin-1 when they are not UTF-8.

    Args:
        stream: text or bytes; nothing must have been read from it through its buffer yet.
        emit: called with `Scanned(code, "scanner")` for each non-empty line.
        stop: set it to make the reader return.
        gs_substitute: what the wedge types for GS, replaced by GS.
    """
    if gs_substitute == "":
        raise ValueError("gs_substitute cannot be empty")
    stop = stop or threading.Event()
    # select() waits on pipes and ttys only on POSIX; elsewhere a read blocks until a line.
    direct = os.name == "posix" and _fileno(stream) is not None
    lines = _split(_fd_chunks(stream, stop)) if direct else _lines(stream, stop)
    for line in lines:
        for part in _LINE_END.split(_text(line)):
            code = clean(part, gs_substitute)
            if code:
                emit(Scanned(code, "scanner"))


def _lines(stream: IO[str] | IO[bytes], stop: threading.Event) -> Iterator[str | bytes]:
    while not stop.is_set():
        line = stream.readline()
        if not line:
            return
        yield line


def _fileno(stream: IO[str] | IO[bytes]) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


def _fd_chunks(stream: IO[str] | IO[bytes], stop: threading.Event) -> Iterator[bytes]:
    fd = stream.fileno()
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], READ_TIMEOUT_S)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                return
            yield chunk


def _split(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Whole lines out of chunks; a last line without its end still counts at end of input."""
    pending = b""
    for chunk in chunks:
        *lines, pending = re.split(rb"[\r\n]", pending + chunk)
        yield from (line for line in lines if line)
    if pending:
        yield pending


def serial_lines(device: SerialLike, stop: threading.Event) -> Iterator[str]:
    """Lines from a serial device, ended by CR, LF or CRLF, decoded as Latin-1 (byte for byte).

    The device must have a read timeout, so that `stop` is looked at between reads.
    """
    pending = b""
    while not stop.is_set():
        chunk = device.read(max(device.in_waiting, 1))
        if not chunk:
            continue
        *lines, pending = re.split(rb"[\r\n]", pending + chunk)
        for line in lines:
            if line:
                yield line.decode("latin-1")


class SerialScanner:
    """A scanner on a serial port (RS-232 or a USB virtual COM port).

    Args:
        device: an open `serial.Serial` (or `serial.serial_for_url(...)`) with a read timeout.
        gs_substitute: what the scanner sends for GS, if it cannot send GS itself.
    """

    def __init__(self, device: SerialLike, *, gs_substitute: str | None = None) -> None:
        if gs_substitute == "":
            raise ValueError("gs_substitute cannot be empty")
        self.device = device
        self.gs_substitute = gs_substitute

    @classmethod
    def from_port(
        cls, port: str, baudrate: int = 9600, *, gs_substitute: str | None = None
    ) -> "SerialScanner":
        """Open a serial port ("/dev/ttyACM0", "COM3") at 8N1.

        Raises:
            serial.SerialException: the port does not exist or is busy.
        """
        import serial

        device = serial.Serial(port, baudrate, timeout=READ_TIMEOUT_S)
        return cls(device, gs_substitute=gs_substitute)

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Emit `Scanned(code, "scanner")` for each scan until `stop` is set; closes the device.

        Raises:
            serial.SerialException: the port failed (a USB scanner unplugged).
        """
        try:
            for line in serial_lines(self.device, stop):
                code = clean(line, self.gs_substitute)
                if code:
                    emit(Scanned(code, "scanner"))
        finally:
            self.device.close()
