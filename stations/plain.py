"""A screen of plain lines, one per event: for a bench PC's log, a pipe, or a test to read."""

import sys
from typing import Any, TextIO


class PlainScreen:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def show_parcel(self, order: str | None, lines: list[dict[str, Any]]) -> None:
        progress = ", ".join(f"{ln['sku']} {ln['scanned']}/{ln['expected']}" for ln in lines)
        self._line(f"PARCEL {order or '-'}: {progress}")

    def show_answer(self, ok: bool, title: str, message: str) -> None:
        self._line(f"{'OK ' if ok else 'NO '} {title}: {message}")

    def show_status(self, online: bool, waiting: int) -> None:
        self._line(f"STATUS {'online' if online else 'offline'} — {waiting} waiting")

    def show_message(self, text: str) -> None:
        self._line(f"MESSAGE {text}")
