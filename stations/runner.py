"""The bench agent's loop: device events in, answers on the screen, everything via the outbox.

One thread takes events in order (scanner, camera, scale) and answers them; a sender thread
delivers the outbox to the server, oldest first, each entry until the server has answered it.
A scan is written to the outbox, answered by the bench's copy of the parcel, and then, when
the server is reachable, the packer sees the server's own answer (it usually arrives in a few
milliseconds); when it is not, the bench's answer, marked offline. A server answer that
disagrees with what the packer was shown is put on the screen as a conflict.

Bench-sheet codes (printable barcodes): QC:PHOTO, QC:CLOSE, QC:DAMAGED (the last accepted
item), QC:PACKER=<badge>, QC:WEIGHT=<grams>. On the keyboard: `p` (or `photo`) takes the photo,
`close` closes, and with `scale = "typed"` a line "w 1234" (or "w 1.2 kg") is the weight.
"""

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from stations.client import Client, Offline, Refused
from stations.config import StationSettings
from stations.events import Event, Photographed, Scanned, Weighed
from stations.offline import LocalParcel
from stations.outbox import Entry, Outbox
from stations.scale import parse_typed_weight
from stations.screen import Screen

TITLES = {
    "accepted": "ACCEPTED",
    "serial_needed": "SCAN SERIAL",
    "wrong_item": "WRONG ITEM",
    "over_quantity": "TOO MANY",
    "unknown_code": "UNKNOWN CODE",
    "duplicate_serial": "DUPLICATE SERIAL",
    "expired_item": "EXPIRED",
}


class PhotoSource(Protocol):
    def photo(self) -> Photographed | None: ...


@dataclass(frozen=True)
class _Answered:
    """The sender has the server's answer to an outbox entry."""

    seq: int


@dataclass(frozen=True)
class _Status:
    """The sender went offline or came back."""


class Agent:
    def __init__(
        self,
        *,
        settings: StationSettings,
        client: Client,
        outbox: Outbox,
        screen: Screen,
        camera: PhotoSource | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.settings, self.client, self.outbox, self.screen = settings, client, outbox, screen
        self.camera, self.today = camera, today
        memo = outbox.recall("parcel")
        self.parcel = LocalParcel.from_pack_data(memo) if memo else None
        self.packer: str = settings.packer or outbox.recall("packer") or ""
        self.online = True
        self.events: queue.Queue[Event | _Answered | _Status | None] = queue.Queue()
        self._answers = threading.Condition()
        # seq -> the answer the bench gave itself, until the server's is compared with it
        self._local: dict[int, dict[str, Any]] = outbox.unsettled()
        self._last_sku: str | None = None
        self._shown_status: tuple[bool, int] | None = None
        self._closing = bool(self.parcel and outbox.recall("closing"))
        self._stop = threading.Event()
        self._sender = threading.Thread(target=self._send_all, name="qc-sender", daemon=True)

    # -- running ---------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Hand an event to the agent; device threads call this."""
        self.events.put(event)

    def start(self) -> None:
        self._sender.start()
        if self.parcel:
            self.screen.show_parcel(self.parcel.order, self.parcel.line_views())
        else:
            self.screen.show_message("Scan a packing slip to start")
        self._status()

    def run(self) -> None:
        """Answer events until `stop()` (or a None event)."""
        while not self._stop.is_set():
            event = self.events.get()
            if event is None:
                break
            self.handle(event)

    def stop(self) -> None:
        self._stop.set()
        self.events.put(None)
        with self._answers:
            self._answers.notify_all()
        if self._sender.is_alive():
            self._sender.join(timeout=5)

    def handle(self, event: Event | _Answered | _Status) -> None:
        match event:
            case Scanned():
                self._scanned(event)
            case Weighed():
                self._queue("weight", {"grams": event.grams}, title="WEIGHT")
            case Photographed():
                self._photo(event)
            case _Answered():
                self._late_answer(event.seq)
            case _Status():
                self._status()

    # -- what the packer does ----------------------------------------------------------------

    def _scanned(self, event: Scanned) -> None:
        code, s = event.code, self.settings
        if code.startswith("QC:PACKER="):
            self.packer = code.removeprefix("QC:PACKER=")
            self.outbox.remember("packer", self.packer)
            self.screen.show_answer(True, "PACKER", f"Packer {self.packer} at this bench")
        elif code.startswith("QC:WEIGHT=") or (s.scale == "typed" and code[:2].lower() == "w "):
            grams = parse_typed_weight(code.split("=", 1)[1] if "=" in code else code[2:])
            if grams is None:
                self.screen.show_answer(False, "WEIGHT?", f"{code!r} is not a weight")
            else:
                self._queue("weight", {"grams": grams}, title="WEIGHT")
        elif self.parcel is None:
            self._open(code)
        elif self._closing:
            self.screen.show_answer(False, "CLOSING", "Waiting for the server to confirm the close")
        elif code == s.photo_code or code.lower() in ("p", "photo"):  # the sheet, or a key
            self._take_photo()
        elif code == s.close_code or code.lower() == "close":
            self._closing = True  # nothing more goes into this parcel
            self._queue("close", {}, title="CLOSE", memo=("closing", True))
        elif code == "QC:DAMAGED":
            self._damaged()
        else:
            self._scan(event)

    def _open(self, slip: str) -> None:
        if not self.packer:
            self.screen.show_answer(False, "WHO IS PACKING?", "Scan your badge (QC:PACKER=…)")
            return
        if self.outbox.waiting():
            self.screen.show_answer(False, "WAIT", "The last parcel is not yet with the server")
            return
        try:
            opened = self.client.open_parcel(order=slip, packer=self.packer)
            data = self.client.pack_data(opened["id"])
        except Offline:
            self.online = False
            self._status()
            self.screen.show_answer(False, "OFFLINE", "A new parcel needs the server: retry soon")
            return
        except Refused as refused:
            self.screen.show_answer(False, "CANNOT OPEN", refused.detail)
            return
        self.parcel = LocalParcel.from_pack_data(data)
        self.outbox.remember("parcel", self.parcel.to_memo())
        self.screen.show_parcel(self.parcel.order, self.parcel.line_views())
        self.screen.show_answer(True, "OPEN", f"Order {self.parcel.order}: scan the items")

    def _scan(self, event: Scanned) -> None:
        assert self.parcel is not None
        body = {"code": event.code, "source": event.source, "recorded_at": event.at.isoformat()}
        event_id = self.outbox.new_event_id()
        self.parcel, local = self.parcel.scan(event.code, event_id=event_id, today=self.today())
        # The scan and the bench's parcel after it, in one synced commit.
        memo = ("parcel", self.parcel.to_memo())
        entry = self.outbox.add("scan", self.parcel.id, body, event_id=event_id, memo=memo)
        self._wake()
        answered = self._await(entry.seq)
        if answered is None:
            self._answered_locally(entry.seq, local)
            self._show_scan(local, offline=True)
            if self.outbox.answer(entry.seq) is not None:  # it came in meanwhile
                self._late_answer(entry.seq)
        else:
            status, answer = answered
            if status < 400 and self.outbox.waiting() == 0:
                self.parcel = self.parcel.with_server_answer(answer)
                self.outbox.remember("parcel", self.parcel.to_memo(), durable=False)
            self._show_scan(answer if status < 400 else _refusal(answer), offline=False)
        self._status()

    def _show_scan(self, answer: dict[str, Any], *, offline: bool) -> None:
        assert self.parcel is not None
        ok = bool(answer.get("ok"))
        title = TITLES.get(str(answer.get("result")), "REFUSED")
        message = str(answer.get("message", answer.get("detail", "")))
        if offline:
            message += "  (offline: the server will confirm)"
        self.screen.show_parcel(self.parcel.order, answer.get("lines") or self.parcel.line_views())
        self.screen.show_answer(ok, title, message)
        if ok and answer.get("result") == "accepted":
            self._last_sku = answer.get("sku")
            if answer.get("remaining") == 0 and self.settings.auto_photo and self.camera:
                self._take_photo()

    def _damaged(self) -> None:
        if self._last_sku is None:
            self.screen.show_answer(False, "DAMAGED?", "Scan the damaged item first")
            return
        self._queue("damaged", {"sku": self._last_sku, "qty": 1}, title="DAMAGED")

    def _take_photo(self) -> None:
        shot = self.camera.photo() if self.camera else None
        if shot is None:
            self.screen.show_answer(False, "NO CAMERA", "No picture from the camera")
            return
        self._photo(shot)

    def _photo(self, shot: Photographed) -> None:
        if shot.reasons:
            self.screen.show_answer(False, "PHOTO", "; ".join(shot.reasons))
            return
        self._queue("photo", {}, blob=shot.jpeg, title="PHOTO")

    def _queue(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        title: str,
        blob: bytes | None = None,
        memo: tuple[str, Any] | None = None,
    ) -> None:
        """Put a decision in the outbox; show the server's answer if it comes in time."""
        if self.parcel is None:
            self.screen.show_answer(False, title, "Scan a packing slip first")
            return
        entry = self.outbox.add(kind, self.parcel.id, body, blob, memo=memo)
        self._wake()
        answered = self._await(entry.seq)
        if answered is None:
            self._answered_locally(entry.seq, {"kind": kind})
            self.screen.show_answer(True, title, "Saved: it goes to the server when it is back")
            if self.outbox.answer(entry.seq) is not None:  # it came in meanwhile
                self._late_answer(entry.seq)
        else:
            self._show_decision(entry, *answered)
        self._status()

    def _show_decision(self, entry: Entry, status: int, answer: dict[str, Any]) -> None:
        kind = entry.kind
        if status >= 400:
            if kind == "close":  # refused (a photo is required, say): the parcel is still open
                self._closing = False
                self.outbox.remember("closing", None)
            reasons = answer.get("quality", {}).get("reasons") if kind == "photo" else None
            self.screen.show_answer(
                False,
                kind.upper(),
                "; ".join(reasons or []) or str(answer.get("detail", "refused")),
            )
        elif kind == "close":
            self._closed(answer)
        elif kind == "photo":
            warnings = answer.get("warnings") or []
            self.screen.show_answer(not warnings, "PHOTO", "; ".join(warnings) or "Photo kept")
        elif kind == "weight":
            within = answer.get("within_tolerance")
            text = f"{answer.get('weight_g')} g (expected {answer.get('expected_weight_g')} g)"
            self.screen.show_answer(within is not False, "WEIGHT", text)
        else:
            self.screen.show_answer(True, kind.upper(), "Recorded")
            if self.parcel and answer.get("lines"):
                self.parcel = self.parcel.with_server_lines(answer["lines"])
                self.screen.show_parcel(self.parcel.order, self.parcel.line_views())

    def _closed(self, verdict: dict[str, Any]) -> None:
        held = verdict.get("status") == "held"
        why = ", ".join(
            f"{d['kind']} {d.get('sku') or ''} ×{d['qty']}" for d in verdict.get("defects", [])
        )
        self.screen.show_answer(
            not held,
            "HELD" if held else "PASSED",
            f"Held: {why}" if held else "Parcel passed: seal it",
        )
        self.parcel, self._last_sku, self._closing = None, None, False
        self.outbox.remember("parcel", None)
        self.outbox.remember("closing", None)
        self.screen.show_message("Scan the next packing slip")

    # -- the server's answers ----------------------------------------------------------------

    def _answered_locally(self, seq: int, local: dict[str, Any]) -> None:
        self._local[seq] = local
        self.outbox.answered_locally(seq, local)

    def _late_answer(self, seq: int) -> None:
        """An answer to an entry the bench answered itself: confirm it, or show the conflict."""
        answered = self.outbox.answer(seq)
        local = self._local.pop(seq, None) if answered is not None else None
        if local is None or answered is None:
            return
        self.outbox.settle(seq)
        status, answer = answered
        if "kind" in local:  # a decision: only its outcome is news
            entry_kind = local["kind"]
            if entry_kind == "close" or status >= 400:
                fake = Entry(seq, "", entry_kind, 0, {}, None, "")
                self._show_decision(fake, status, answer)
            return
        server = _refusal(answer) if status >= 400 else answer
        if server.get("result") != local.get("result"):
            self.screen.show_answer(
                False, "CONFLICT", f"The server says: {server.get('message', server.get('detail'))}"
            )
        if self.parcel and status < 400 and self.outbox.waiting() == 0:
            self.parcel = self.parcel.with_server_answer(answer)
            self.outbox.remember("parcel", self.parcel.to_memo())
            self.screen.show_parcel(self.parcel.order, self.parcel.line_views())

    def _await(self, seq: int) -> tuple[int, dict[str, Any]] | None:
        """The server's answer to an entry, if it comes within answer_wait_s while online."""
        deadline = self.settings.answer_wait_s if self.online else 0.0
        with self._answers:
            self._answers.wait_for(
                lambda: self.outbox.answer(seq) is not None or not self.online, timeout=deadline
            )
        found = self.outbox.answer(seq)
        if found is not None:
            self._local.pop(seq, None)
        return found

    def _wake(self) -> None:
        with self._answers:
            self._answers.notify_all()

    def _status(self) -> None:
        now = (self.online, self.outbox.waiting())
        if now != self._shown_status:
            self._shown_status = now
            self.screen.show_status(*now)

    def _send_all(self) -> None:
        """Deliver the outbox in order; an entry is retried until the server has answered it."""
        while not self._stop.is_set():
            entry = self.outbox.next_unsent()
            if entry is None:
                with self._answers:
                    self._answers.wait(timeout=0.5)
                continue
            try:
                status, answer = self.client.send(entry)
            except Offline:
                if self.online:
                    self.online = False
                    self.events.put(_Status())
                self._wake()
                self._stop.wait(self.settings.retry_s)
                continue
            except Refused as refused:
                status, answer = refused.status, {"error": refused.code, "detail": refused.detail}
            self.outbox.mark_sent(entry.seq, status=status, answer=answer)
            back = not self.online
            self.online = True
            self._wake()
            if entry.seq in self._local:
                self.events.put(_Answered(entry.seq))
            waiting = self.outbox.waiting()
            if back or waiting == 0:
                self.events.put(_Status())
            if waiting and self.settings.replay_pause_s:
                self._stop.wait(self.settings.replay_pause_s)


def _refusal(answer: dict[str, Any]) -> dict[str, Any]:
    """A 4xx error body as a red answer."""
    return {"ok": False, "result": answer.get("error"), "message": answer.get("detail")}
