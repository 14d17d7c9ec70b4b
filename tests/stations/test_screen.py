"""The packer's screen and sounds."""

import io
import time
import wave
from pathlib import Path

import pytest
from rich.console import Console

from stations.screen import BigText, RecordingScreen, Screen, Sounds, TerminalScreen

LINES = [
    {"sku": "MUG-BLUE", "name": "Mug, blue", "expected": 3, "scanned": 2, "damaged": 0,
     "short": 0, "status": "pending"},
    {"sku": "LID-7", "name": "Lid", "expected": 1, "scanned": 1, "damaged": 1, "short": 0,
     "status": "complete"},
]  # fmt: skip


def test_recording_screen_keeps_every_call() -> None:
    screen: Screen = RecordingScreen()

    screen.show_parcel("SO-1001", LINES)
    screen.show_answer(False, "WRONG ITEM", "Take it out")
    screen.show_status(False, 3)
    screen.show_message("Scan the next item")

    assert isinstance(screen, RecordingScreen)
    assert screen.calls[0] == ("parcel", "SO-1001", LINES)
    assert screen.answers == [(False, "WRONG ITEM", "Take it out")]
    assert ("status", False, 3) in screen.calls
    assert screen.messages == ["Scan the next item"]


def test_terminal_screen_draws_answer_lines_and_status() -> None:
    console = Console(file=(buffer := io.StringIO()), width=100, height=30)
    screen = TerminalScreen(console)

    screen.show_parcel("SO-1001", LINES)
    screen.show_answer(False, "WRONG ITEM", "That is a red mug: take it out")
    screen.show_status(False, 3)
    screen.show_message("Scan the next item")
    screen.stop()  # a console that is no terminal gets the final screen on stop
    out = buffer.getvalue()

    assert "██" in out  # the answer in block letters
    assert "take it out" in out
    assert "MUG-BLUE" in out and "LID-7" in out
    assert "2/3" in out and "1/1" in out
    assert "1 damaged" in out
    assert "Order SO-1001" in out
    assert "offline — 3 waiting" in out
    assert "Scan the next item" in out


def test_terminal_screen_render_before_anything_is_shown() -> None:
    console = Console(file=(buffer := io.StringIO()), width=60, height=20)

    console.print(TerminalScreen(console).render())

    out = buffer.getvalue()
    assert "No parcel open" in out
    assert "online" in out


@pytest.mark.parametrize(("width", "pixel"), [(100, "██"), (60, "█"), (20, None)])
def test_big_text_fits_the_width(width: int, pixel: str | None) -> None:
    console = Console(file=(buffer := io.StringIO()), width=width)

    console.print(BigText("accepted"))

    out = buffer.getvalue()
    if pixel is None:
        assert "ACCEPTED" in out
    else:
        assert pixel in out and max(len(line) for line in out.splitlines()) <= width
        assert len(out.strip("\n").splitlines()) == 5


def test_sounds_disabled_are_silent(tmp_path: Path) -> None:
    rings: list[int] = []

    sounds = Sounds(tmp_path, enabled=False, bell=lambda: rings.append(1))
    sounds.play(True)
    sounds.play(False)

    assert rings == []
    assert list(tmp_path.iterdir()) == []


def test_sounds_are_two_distinct_wav_files(tmp_path: Path) -> None:
    sounds = Sounds(tmp_path / "sounds", players=(), bell=lambda: None)

    accepted, refused = sounds.accepted_wav.read_bytes(), sounds.refused_wav.read_bytes()
    assert accepted != refused
    with wave.open(str(sounds.accepted_wav)) as a, wave.open(str(sounds.refused_wav)) as r:
        assert a.getnchannels() == r.getnchannels() == 1
        assert a.getframerate() == r.getframerate() == Sounds.RATE
        assert a.getnframes() < r.getnframes()  # one beep; two buzzes and a pause


def test_without_a_player_the_bell_rings_once_or_three_times(tmp_path: Path) -> None:
    rings: list[str] = []
    sounds = Sounds(tmp_path, players=("no-such-player-here",), bell=lambda: rings.append("a"))

    sounds.play(True)
    assert rings == ["a"]
    sounds.play(False)
    deadline = time.monotonic() + 5
    while len(rings) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(rings) == 4


def test_sounds_never_raise(tmp_path: Path) -> None:
    def broken_bell() -> None:
        raise OSError("no terminal")

    blocker = tmp_path / "file"
    blocker.write_text("")
    sounds = Sounds(blocker / "sounds", bell=broken_bell)  # cannot make the folder

    sounds.play(True)
    sounds.play(False)


def test_a_failed_player_falls_back_to_the_bell(tmp_path: Path) -> None:
    rings: list[str] = []
    sounds = Sounds(tmp_path, players=("false",), bell=lambda: rings.append("a"))

    sounds.play(True)  # `false` runs and fails, as a player with no audio device does
    time.sleep(0.2)
    sounds.play(True)

    assert rings == ["a"]
