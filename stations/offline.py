"""The open parcel as the bench keeps it: answered with the server's own verification module.

Built from the server's pack data when the parcel opens, kept in the outbox after every scan,
so a bench that loses the server, or restarts without it, answers scans exactly as the
server will: the same rule (`qc.verification`), the same catalogue reading of codes
(`qc.barcodes`), the same words (`qc.messages`). What the bench cannot know offline (a
product that is not in this order, a serial taken at another bench) it answers as the safer
refusal; the server's answer, when it comes, is the one that counts.
"""

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from qc import verification as v
from qc.barcodes import parse_scan
from qc.messages import GREEN, scan_message


@dataclass(frozen=True)
class LocalParcel:
    id: int
    order: str
    names: dict[str, str]
    barcodes: dict[str, tuple[str, int, bool]]  # code -> (sku, pack_qty, requires_serial)
    state: v.ParcelState

    @classmethod
    def from_pack_data(cls, data: dict[str, Any]) -> "LocalParcel":
        """From `GET /parcels/{id}/pack-data`, or from what `to_memo` kept."""
        lines = tuple(
            v.Line(
                ln["sku"],
                ln["expected"],
                ln["kit_qty"],
                ln["accepted"],
                ln["damaged"],
                ln["short"],
                ln["weight_g"],
            )
            for ln in data["lines"]
        )
        parcel = data["parcel"]
        return cls(
            id=parcel["id"],
            order=parcel["order"],
            names={ln["sku"]: ln["name"] for ln in parcel["lines"]},
            barcodes={
                b["code"]: (b["sku"], b["pack_qty"], b["requires_serial"]) for b in data["barcodes"]
            },
            state=v.ParcelState(lines=lines, pending_serial=data.get("pending_serial")),
        )

    def to_memo(self) -> dict[str, Any]:
        """What the outbox keeps of the parcel, in the pack data's own shape."""
        return {
            "parcel": {"id": self.id, "order": self.order, "lines": self.line_views()},
            "lines": [
                {
                    "sku": ln.sku,
                    "expected": ln.expected,
                    "kit_qty": ln.kit_qty,
                    "accepted": ln.accepted,
                    "damaged": ln.damaged,
                    "short": ln.short,
                    "weight_g": ln.weight_g,
                }
                for ln in self.state.lines
            ],
            "pending_serial": self.state.pending_serial,
            "barcodes": [
                {"code": code, "sku": sku, "pack_qty": qty, "requires_serial": serial}
                for code, (sku, qty, serial) in self.barcodes.items()
            ],
        }

    def line_views(self) -> list[dict[str, Any]]:
        """The lines as the API shows them (`LineOut`)."""
        return [
            {
                "sku": ln.sku,
                "name": self.names.get(ln.sku, ln.sku),
                "expected": ln.expected,
                "scanned": ln.good,
                "damaged": ln.damaged,
                "short": ln.short,
                "status": ln.status,
            }
            for ln in self.state.lines
        ]

    def scan(
        self, code: str, *, event_id: str, today: date
    ) -> tuple["LocalParcel", dict[str, Any]]:
        """Answer a scan as the server would, and the parcel after it.

        Returns:
            The new parcel and an answer shaped like the API's (`result`, `ok`, `message`,
            `sku`, `remaining`, `lines`).
        """
        read = parse_scan(code)
        found = next((self.barcodes[k] for k in read.lookup_keys if k in self.barcodes), None)
        item = None if found is None else v.Item(*found)
        gs1 = read.gtin is not None or read.sscc is not None or read.lot is not None
        event = v.ScanEvent(
            event_id=event_id,
            text=read.text,
            item=item,
            serial=read.serial,
            expiry=read.expiry,
            gs1=gs1,
        )
        state, answer = v.scan(self.state, event, today=today)
        after = replace(self, state=state)
        return after, {
            "result": answer.result.value,
            "ok": answer.result in GREEN,
            "sku": answer.sku,
            "message": scan_message(answer, read, state),
            "remaining": state.remaining,
            "lines": after.line_views(),
        }

    def with_server_answer(self, answer: dict[str, Any]) -> "LocalParcel":
        """Take the server's counts (authoritative) from one of its scan answers."""
        pending = answer.get("sku") if answer.get("result") == "serial_needed" else None
        after = self.with_server_lines(answer.get("lines", []))
        return replace(after, state=replace(after.state, pending_serial=pending))

    def with_server_lines(self, lines: list[dict[str, Any]]) -> "LocalParcel":
        """Take the server's counts (authoritative) after one of its answers."""
        counts = {ln["sku"]: ln for ln in lines}
        new = tuple(
            replace(
                ln,
                accepted=counts[ln.sku]["scanned"] + counts[ln.sku]["damaged"],
                damaged=counts[ln.sku]["damaged"],
                short=counts[ln.sku]["short"],
            )
            if ln.sku in counts
            else ln
            for ln in self.state.lines
        )
        return replace(self, state=replace(self.state, lines=new))
