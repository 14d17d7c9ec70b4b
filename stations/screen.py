"""What the packer sees and hears: the order, each line's progress, a big green or red answer.

The answer is drawn in block letters from a built-in 3x5 font, two columns a pixel when the
terminal is wide enough, so it reads at arm's length; a terminal too narrow gets bold text.
Each answer also sounds: one short high beep when accepted, two low buzzes when refused.
"""

import atexit
import io
import logging
import shutil
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rich.align import Align
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.layout import Layout
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

log = logging.getLogger(__name__)


class Screen(Protocol):
    """The packer's display; the agent calls it from one thread."""

    def show_parcel(self, order: str | None, lines: list[dict[str, Any]]) -> None:
        """The open parcel's order and lines as the API gives them (None: no parcel open)."""

    def show_answer(self, ok: bool, title: str, message: str) -> None:
        """The answer to the last scan, e.g. (True, "ACCEPTED", "Mug, blue: 2 of 3")."""

    def show_status(self, online: bool, waiting: int) -> None:
        """Whether the server answers, and how many events wait in the outbox."""

    def show_message(self, text: str) -> None:
        """A line of guidance, e.g. "Scan the packing slip"."""


class RecordingScreen:
    """A screen that remembers what it was asked to show, for tests of the agent."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def show_parcel(self, order: str | None, lines: list[dict[str, Any]]) -> None:
        self.calls.append(("parcel", order, [dict(line) for line in lines]))

    def show_answer(self, ok: bool, title: str, message: str) -> None:
        self.calls.append(("answer", ok, title, message))

    def show_status(self, online: bool, waiting: int) -> None:
        self.calls.append(("status", online, waiting))

    def show_message(self, text: str) -> None:
        self.calls.append(("message", text))

    @property
    def answers(self) -> list[tuple[bool, str, str]]:
        return [(c[1], c[2], c[3]) for c in self.calls if c[0] == "answer"]

    @property
    def messages(self) -> list[str]:
        return [c[1] for c in self.calls if c[0] == "message"]


# 3x5 glyphs: five rows, top first, each a digit whose bits 4, 2, 1 are the left, middle and
# right pixel.
_FONT = {
    "A": "25755", "B": "65656", "C": "34443", "D": "65556", "E": "74647", "F": "74644",
    "G": "34553", "H": "55755", "I": "72227", "J": "11152", "K": "55655", "L": "44447",
    "M": "57755", "N": "65555", "O": "75557", "P": "65644", "Q": "25563", "R": "65655",
    "S": "34216", "T": "72222", "U": "55557", "V": "55552", "W": "55775", "X": "55255",
    "Y": "55222", "Z": "71247", "0": "25552", "1": "26227", "2": "61247", "3": "61216",
    "4": "55711", "5": "74616", "6": "34757", "7": "71222", "8": "75757", "9": "75716",
    " ": "00000", "-": "00700", "!": "22202", "?": "61202", ".": "00002", ": ":"02020",
}  # fmt: skip


class BigText:
    """Block letters that fit the width they are given, else plain bold text."""

    def __init__(self, text: str, style: str = "") -> None:
        self.text = text.upper()
        self.style = style

    def rows(self, pixel: str) -> list[str]:
        gap = " " * len(pixel)
        rows = []
        for row in range(5):
            glyphs = []
            for char in self.text:
                bits = int(_FONT.get(char, _FONT["?"])[row])
                glyphs.append("".join(pixel if bits & m else " " * len(pixel) for m in (4, 2, 1)))
            rows.append(gap.join(glyphs))
        return rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for pixel in ("██", "█"):
            rows = self.rows(pixel)
            if len(rows[0]) <= options.max_width:
                # One block, centred as a whole: centring each row would trim them unevenly.
                yield Align.center(Text("\n".join(rows), style=self.style, no_wrap=True))
                return
        yield Text(self.text, style=f"bold {self.style}", justify="center")


class TerminalScreen:
    """The bench's terminal: answer on top, the order's lines, guidance, the link's status.

    Args:
        console: where to draw (the terminal by default; a file-backed console in tests).
        sounds: what to play with each answer; None for silence.
        full_screen: take over the whole terminal (the alternate screen) while running.
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        sounds: "Sounds | None" = None,
        full_screen: bool = False,
    ) -> None:
        self.console = console or Console()
        self.sounds = sounds
        self._order: str | None = None
        self._lines: list[dict[str, Any]] = []
        self._answer: tuple[bool | None, str, str] = (None, "READY", "")
        self._status = (True, 0)
        self._message = ""
        self._live = Live(
            console=self.console, screen=full_screen, get_renderable=self.render,
            refresh_per_second=8, redirect_stdout=False, redirect_stderr=False,
        )  # fmt: skip
        self._running = False

    def start(self) -> None:
        """Take over the terminal (the first `show_*` call does it if this was not called)."""
        if not self._running:
            self._running = True
            self._live.start()
            atexit.register(self.stop)  # the terminal gets its cursor back whatever happens

    def stop(self) -> None:
        """Draw the screen one last time and give the terminal back."""
        if self._running:
            self._running = False
            self._live.stop()
            atexit.unregister(self.stop)

    def __enter__(self) -> "TerminalScreen":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def show_parcel(self, order: str | None, lines: list[dict[str, Any]]) -> None:
        self._order, self._lines = order, [dict(line) for line in lines]
        self._refresh()

    def show_answer(self, ok: bool, title: str, message: str) -> None:
        self._answer = (ok, title, message)
        self._refresh()
        if self.sounds is not None:
            self.sounds.play(ok)

    def show_status(self, online: bool, waiting: int) -> None:
        self._status = (online, waiting)
        self._refresh()

    def show_message(self, text: str) -> None:
        self._message = text
        self._refresh()

    def _refresh(self) -> None:
        if not self._running:  # the first thing shown starts the screen
            self.start()
        self._live.refresh()  # the packer's answer is drawn now, not at the next tick

    def render(self) -> Layout:
        """The whole screen as it stands."""
        layout = Layout()
        layout.split_column(
            Layout(self._render_answer(), name="answer", size=9),
            Layout(self._render_lines(), name="lines", ratio=1),
            Layout(_message(self._message), name="message", size=1),
            Layout(self._render_status(), name="status", size=1),
        )
        return layout

    def _render_answer(self) -> Panel:
        ok, title, message = self._answer
        style = "bold" if ok is None else "bold white on green4" if ok else "bold white on red3"
        body = Group(BigText(title), Text(""), Text(message, justify="center"))
        return Panel(Align.center(body, vertical="middle"), style=style)

    def _render_lines(self) -> Panel:
        table = Table(expand=True, box=None, header_style="bold")
        for name, kwargs in (("SKU", {"no_wrap": True}), ("Item", {"ratio": 1}),
                             ("Progress", {"width": 20}), ("Packed", {"justify": "right"}),
                             ("Notes", {}), ("Status", {})):  # fmt: skip
            table.add_column(name, **kwargs)
        for line in self._lines:
            expected, damaged, short = (
                int(line.get(k) or 0) for k in ("expected", "damaged", "short")
            )
            good = int(line.get("scanned") or 0)  # the API counts good units: damaged are out
            status = str(line.get("status", ""))
            notes = ", ".join(f"{n} {k}" for k, n in (("damaged", damaged), ("short", short)) if n)
            table.add_row(
                str(line.get("sku", "")), str(line.get("name", "")),
                ProgressBar(total=max(expected, 1), completed=min(good + short, expected)),
                f"{good}/{expected}", notes,
                Text(status, style=_STATUS_STYLES.get(status, "")),
            )  # fmt: skip
        title = f"Order {self._order}" if self._order else "No parcel open"
        return Panel(table, title=title, title_align="left")

    def _render_status(self) -> Text:
        online, waiting = self._status
        if online:
            text = "online" + (f" — {waiting} waiting to send" if waiting else "")
            return Text(text, style="green")
        return Text(f"offline — {waiting} waiting", style="bold yellow")


def _message(text: str) -> Text:
    # An empty Text is falsy, and Layout shows its placeholder for a falsy renderable.
    return Text(text or " ", style="bold", justify="center")


_STATUS_STYLES = {"complete": "green", "pending": "yellow", "short": "magenta"}


class Sounds:
    """A distinct sound for accepted and refused scans; never raises, whatever the audio.

    Two WAV files are written into `folder` and played with the first player found (paplay,
    aplay), without waiting. With no player, or once one has failed (no audio device), the
    terminal bell rings instead: once for accepted, three times for refused.

    Args:
        folder: where the WAV files go.
        enabled: False makes it silent.
        players: the commands to try, in order.
        bell: rings the terminal bell once (writes BEL to standard output by default).
    """

    RATE = 22050

    def __init__(
        self,
        folder: Path,
        *,
        enabled: bool = True,
        players: Iterable[str] = ("paplay", "aplay"),
        bell: Callable[[], None] | None = None,
    ) -> None:
        self.enabled = enabled
        self.accepted_wav = folder / "accepted.wav"
        self.refused_wav = folder / "refused.wav"
        self._bell = bell or _stdout_bell
        self._player: str | None = None
        self._playing: subprocess.Popen[bytes] | None = None
        if not enabled:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._write(self.accepted_wav, [(1200, 0.12, "sine")])
            self._write(self.refused_wav, [(300, 0.18, "buzz"), (0, 0.08, ""), (300, 0.18, "buzz")])
        except OSError:
            log.warning("cannot write the sounds into %s: the terminal bell will do", folder)
            return
        self._player = next((p for p in players if shutil.which(p)), None)

    def _write(self, path: Path, parts: list[tuple[float, float, str]]) -> None:
        chunks = []
        for hertz, seconds, shape in parts:
            t = np.arange(int(self.RATE * seconds)) / self.RATE
            wave_ = np.sin(2 * np.pi * hertz * t)
            if shape == "buzz":  # a square wave: harsh, unmistakable
                wave_ = np.sign(wave_) * 0.6
            fade = np.minimum(1, np.minimum(t, seconds - t) / 0.005)  # no clicks
            chunks.append(wave_ * fade * 0.8 if hertz else np.zeros_like(t))
        samples = (np.concatenate(chunks) * 32767).astype("<i2")
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.RATE)
            out.writeframes(samples.tobytes())

    def play(self, accepted: bool) -> None:
        """The accepted or the refused sound, without waiting for it to end."""
        if not self.enabled:
            return
        try:
            if self._playing is not None and self._playing.poll() not in (None, 0):
                log.warning("%s failed: the terminal bell will do", self._player)
                self._player = None
            if self._player is not None:
                wav = self.accepted_wav if accepted else self.refused_wav
                self._playing = subprocess.Popen(  # noqa: S603 - a fixed command and our own file
                    [self._player, str(wav)], stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                return
        except OSError:
            self._player = None
        self._ring(1 if accepted else 3)

    def _ring(self, times: int) -> None:
        def ring() -> None:
            for i in range(times):
                if i:
                    time.sleep(0.15)  # bells closer than this merge into one
                try:
                    self._bell()
                except (OSError, ValueError):  # a closed or missing terminal
                    return

        if times == 1:
            ring()
        else:
            threading.Thread(target=ring, name="bell", daemon=True).start()


def _stdout_bell() -> None:
    stream = sys.__stdout__ or io.StringIO()
    stream.write("\a")
    stream.flush()
