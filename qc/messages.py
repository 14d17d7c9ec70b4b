"""What the packer reads for each scan answer. Pure: the server and the bench agent, answering
offline, word their answers the same way."""

from qc import verification as v
from qc.barcodes import ScannedCode
from qc.enums import ScanResult

GREEN = (ScanResult.ACCEPTED, ScanResult.SERIAL_NEEDED)  # answers the packer sees in green


def scan_message(answer: v.Answer, code: ScannedCode, state: v.ParcelState) -> str:
    """The sentence the packer reads for an answer; the server and the bench agent say the same."""
    sku = answer.sku or ""
    line = state.line(sku) if sku else None
    match answer.result:
        case ScanResult.ACCEPTED:
            done = " — all items scanned, close the parcel" if state.remaining == 0 else ""
            return f"OK {sku}: {line.good if line else 0} of {line.expected if line else 0}{done}"
        case ScanResult.SERIAL_NEEDED:
            return f"{sku}: now scan its serial number"
        case ScanResult.WRONG_ITEM:
            return f"Wrong item: {sku} is not in this order — take it out"
        case ScanResult.OVER_QUANTITY:
            return f"Too many {sku}: this order needs no more — take it out"
        case ScanResult.EXPIRED_ITEM:
            return f"Expired {sku} (use by {code.expiry}) — take it out and pick a fresh one"
        case ScanResult.DUPLICATE_SERIAL:
            return f"Serial {answer.serial} of {sku} was already scanned — take it out"
        case _:
            return f"Unknown code {code.text[:40]} — not in the catalogue"
