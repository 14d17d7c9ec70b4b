"""`qc-station check`: what the camera gives, and the codes it reads, in a few seconds."""

import time
from dataclasses import dataclass, field

from stations.camera import Camera, FrameSource, open_source
from stations.events import Scanned


@dataclass(frozen=True)
class CheckReport:
    """What `qc-station check` found out about the camera."""

    width: int
    height: int
    fps: float  # as declared by the source; 0 if unknown
    measured_fps: float
    frames: int
    seconds: float
    codes: list[str] = field(default_factory=list)  # distinct confirmed codes, first seen first
    dropped: int = 0


def describe(source: FrameSource | str, seconds: float = 3.0) -> CheckReport:
    """Read a source for a while and report its size, frame rate and the codes it sees.

    Args:
        source: an opened source (released here) or a spec for `open_source`.
        seconds: how long to read; a file may end sooner.

    Raises:
        ValueError: a spec that cannot be opened.
    """
    if isinstance(source, str):
        source = open_source(source)
    codes: list[str] = []

    def seen(event: object) -> None:
        if isinstance(event, Scanned) and event.code not in codes:
            codes.append(event.code)

    width, height, fps = source.width, source.height, source.fps
    camera = Camera(source, emit=seen)
    began = time.monotonic()
    camera.start()
    camera.join(seconds)
    elapsed = max(time.monotonic() - began, 1e-6)
    frames = camera.frames
    camera.stop()
    latest = camera.latest()
    if latest is not None:  # some drivers declare no size, or not the one they deliver
        height, width = latest.shape[:2]
    return CheckReport(
        width, height, fps, round(frames / elapsed, 1), frames,
        round(elapsed, 2), codes, camera.dropped,
    )  # fmt: skip


def format_report(report: CheckReport) -> str:
    """The lines `qc-station check` prints."""
    declared = f"{report.fps:g} fps declared" if report.fps else "frame rate not declared"
    lines = [
        f"camera: {report.width}x{report.height}, {declared}",
        f"measured: {report.measured_fps:g} fps ({report.frames} frames in {report.seconds:g} s"
        f", {report.dropped} dropped by the decoder)",
    ]
    if report.codes:
        lines.append(f"codes seen ({len(report.codes)}):")
        lines += [f"  {code.replace(chr(0x1D), '<GS>')}" for code in report.codes]
    else:
        lines.append("codes seen: none")
    return "\n".join(lines)
