"""The bench camera: frames in, debounced camera scans and parcel photos out.

A capture thread reads frames into a one-slot mailbox (`LatestFrame`); a decode thread takes
the newest one and reads its codes with the project's `FrameDecoder`. A live camera that
outruns the decoder has frames dropped (counted), so the answer never lags behind the bench;
a video file or an image folder is read frame by frame, each one decoded (back-pressure), so a
recorded shift replays the same way every time, as fast as the decoder goes.

Debounce: a code held under the camera counts once. It is emitted when it appears and again
only once it has been out of view for `debounce_gone_s`. Time is the frame's time: for a live
source the clock when the decoder takes the frame (the newest, so at most a frame late), for a
file or folder the position in the recording (frame number / fps), so that a replay at full
speed debounces as the shift did.
"""

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from qc.vision.frames import FrameDecoder, LatestFrame
from qc.vision.photo import ANALYSIS_SIDE, QualityLimits, measure
from stations.events import Emit, Photographed, Scanned

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
FOLDER_FPS = 10.0  # an image folder has no frame rate of its own: played as this
JPEG_QUALITY = 90
_STREAMS = ("rtsp://", "http://", "https://")
_OPEN_TIMEOUT_MS = 5000
_LIVE_FAILURES = 50  # consecutive failed reads (about 5 s) before a live source counts as gone


class FrameSource(Protocol):
    """Where frames come from: a camera, a stream, a video file or a folder of images."""

    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def fps(self) -> float:
        """Frames per second as declared by the source; 0 if unknown."""
        ...

    @property
    def live(self) -> bool:
        """A device or stream (frames may be dropped), not a file or folder."""
        ...

    def read(self) -> np.ndarray | None:
        """The next BGR frame; None when a file is exhausted or a read fails."""
        ...

    def release(self) -> None: ...


class _Pacer:
    """Plays a recording at its own rate when asked to; otherwise lets frames go at once."""

    def __init__(self, fps: float, realtime: bool) -> None:
        self._period = 1 / fps if realtime and fps > 0 else 0.0
        self._next = 0.0

    def wait(self) -> None:
        if not self._period:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(self._next, now) + self._period


class CaptureSource:
    """An OpenCV `VideoCapture`: a device index, a stream URL or a video file."""

    def __init__(self, capture: cv2.VideoCapture, *, live: bool, realtime: bool = False) -> None:
        self._capture = capture
        self._live = live
        self._pacer = _Pacer(self.fps, realtime and not live)

    @property
    def width(self) -> int:
        return int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))

    @property
    def height(self) -> int:
        return int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))

    @property
    def fps(self) -> float:
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        return fps if 0 < fps < 1000 else 0.0  # some drivers report garbage

    @property
    def live(self) -> bool:
        return self._live

    def read(self) -> np.ndarray | None:
        self._pacer.wait()
        ok, frame = self._capture.read()
        return frame if ok and frame is not None else None

    def release(self) -> None:
        self._capture.release()


class ImageSource:
    """Still images played as video, in the order given; unreadable files are skipped."""

    def __init__(self, paths: list[Path], *, fps: float = FOLDER_FPS, realtime: bool = False):
        first = next((img for img in map(_imread, paths) if img is not None), None)
        if first is None:
            raise ValueError("none of the images can be read")
        self.height, self.width = first.shape[:2]
        self.fps = fps
        self.live = False
        self._paths = iter(paths)
        self._pacer = _Pacer(fps, realtime)

    def read(self) -> np.ndarray | None:
        for path in self._paths:
            image = _imread(path)
            if image is not None:
                self._pacer.wait()
                return image
            log.warning("skipping %s: not a readable image", path)
        return None

    def release(self) -> None:
        self._paths = iter(())


def _imread(path: Path) -> np.ndarray | None:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)


def open_source(spec: str, *, realtime: bool = False) -> FrameSource:
    """Open a frame source from its description in the station's settings.

    Args:
        spec: a device index ("0"), an rtsp://, http:// or https:// stream URL, a folder of
            images (.png .jpg .jpeg .bmp, played in name order), an image or a video file.
        realtime: play files and folders at their own frame rate instead of as fast as they
            are read (live sources always go at their own pace).

    Returns:
        The opened source; the caller releases it (a `Camera` does).

    Raises:
        ValueError: nothing at `spec` can be opened.
    """
    spec = spec.strip()
    if spec.isdigit():
        capture = cv2.VideoCapture(int(spec))
        if not capture.isOpened():
            raise ValueError(f"camera {spec} cannot be opened: is it plugged in and free?")
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued in the driver
        return CaptureSource(capture, live=True)
    if spec.lower().startswith(_STREAMS):
        timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, _OPEN_TIMEOUT_MS,
                    cv2.CAP_PROP_READ_TIMEOUT_MSEC, _OPEN_TIMEOUT_MS]  # fmt: skip
        capture = cv2.VideoCapture(spec, cv2.CAP_ANY, timeouts)
        if not capture.isOpened():
            raise ValueError(f"the stream {spec} cannot be opened: check the address and network")
        return CaptureSource(capture, live=True)
    path = Path(spec).expanduser()
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise ValueError(f"the folder {spec} holds no .png, .jpg, .jpeg or .bmp image")
        try:
            return ImageSource(images, realtime=realtime)
        except ValueError:
            raise ValueError(f"none of the images in {spec} can be read") from None
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            try:
                return ImageSource([path], realtime=realtime)
            except ValueError:
                raise ValueError(f"{spec} is not a readable image") from None
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise ValueError(f"{spec} is not a video file OpenCV can read")
        return CaptureSource(capture, live=False, realtime=realtime)
    raise ValueError(f"{spec!r} is no camera index, stream URL, video file or image folder")


class Debouncer:
    """Turns the codes seen frame after frame into the codes that just came into view."""

    def __init__(self, gone_s: float) -> None:
        self.gone_s = gone_s
        self._last_seen: dict[str, float] = {}
        self._counted: set[str] = set()

    def seen(self, codes: list[tuple[str, bool]], at: float) -> list[str]:
        """Record a frame's codes, as (text, confirmed), taken at `at` seconds.

        Returns:
            The confirmed codes to count now: new in view, or back after `gone_s` away.
        """
        for text, last in list(self._last_seen.items()):
            if at - last >= self.gone_s:
                del self._last_seen[text]
                self._counted.discard(text)
        new = []
        for text, confirmed in codes:
            # An unconfirmed read keeps a code in view but does not count it.
            self._last_seen[text] = at
            if confirmed and text not in self._counted:
                self._counted.add(text)
                new.append(text)
        return new


class Camera:
    """Reads codes from a frame source on two threads and keeps the newest frame for photos.

    Args:
        source: the opened source; the camera releases it when capture ends.
        emit: called with `Scanned(code, "camera")` from the decode thread.
        debounce_gone_s: how long a code must be out of view to count again.
        limits: the photo quality gate, as the server applies it.
        clock: seconds, for the time of live frames (tests inject one).
        reopen: for a live source, how to open it again when it stops giving frames (a
            camera unplugged and plugged back, a stream that dropped); without it, capture
            ends there.
        reopen_pause_s: the wait before each attempt to reopen.
    """

    def __init__(
        self,
        source: FrameSource,
        *,
        emit: Emit,
        debounce_gone_s: float = 0.7,
        limits: QualityLimits = QualityLimits(),
        clock: Callable[[], float] = time.monotonic,
        reopen: Callable[[], FrameSource] | None = None,
        reopen_pause_s: float = 2.0,
    ) -> None:
        self.source = source
        self._reopen, self._reopen_pause_s = reopen, reopen_pause_s
        self.reopened = 0
        self._emit = emit
        self._limits = limits
        self._clock = clock
        self._debouncer = Debouncer(debounce_gone_s)
        self._box = LatestFrame()
        self._taken = threading.Semaphore(1)  # back-pressure for files: one frame in flight
        self._stop = threading.Event()
        self._captured = threading.Event()  # the capture thread is done
        self._latest: np.ndarray | None = None
        self._threads: list[threading.Thread] = []
        self.frames = 0  # read from the source
        self.decoded = 0

    @property
    def dropped(self) -> int:
        """Frames of a live source replaced before the decoder took them."""
        return self._box.dropped

    def start(self) -> None:
        """Start the capture and decode threads (once: the source is released when they end)."""
        if self._threads:
            raise RuntimeError("a camera starts once")
        self._threads = [
            threading.Thread(target=self._capture, name="camera-capture", daemon=True),
            threading.Thread(target=self._decode, name="camera-decode", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both threads and wait for them (a hung driver is left behind after `timeout`)."""
        self._stop.set()
        self._box.close()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until both threads ended: a file source is exhausted and every frame decoded.

        Returns:
            True when both threads ended within `timeout`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))
        return not any(thread.is_alive() for thread in self._threads)

    def latest(self) -> np.ndarray | None:
        """The newest frame read, or None before the first."""
        return self._latest

    def photo(self) -> Photographed | None:
        """The newest frame as a JPEG, with the reasons it would fail the quality gate.

        Returns:
            The photo, `reasons` empty when fit to upload; None if no frame came yet.
        """
        frame = self._latest
        if frame is None:
            return None
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        # Shrunk by a whole factor as the server shrinks an upload before measuring it, so
        # that the bench and the server give the same verdict on the same photo.
        factor = round(max(gray.shape) / ANALYSIS_SIDE)
        if factor > 1:
            gray = cv2.resize(
                gray, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA
            )
        quality = measure(gray, self._limits)
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:  # pragma: no cover - OpenCV encodes any 8-bit frame
            return None
        return Photographed(jpeg.tobytes(), quality.reasons)

    def _reopened(self) -> bool:
        """Release the silent live source and open it again, until it opens or we stop."""
        assert self._reopen is not None
        self.source.release()
        while not self._stop.wait(self._reopen_pause_s):
            try:
                self.source = self._reopen()
            except ValueError:
                log.warning("the camera is still away; trying again")
                continue
            self.reopened += 1
            log.warning("the camera is back")
            return True
        return False

    def _capture(self) -> None:
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    frame = self.source.read()
                except cv2.error:
                    log.exception("the camera failed")
                    frame = None
                if frame is None:
                    failures += 1
                    if not self.source.live:
                        break
                    if failures >= _LIVE_FAILURES:
                        if self._reopen is None or not self._reopened():
                            break
                        failures = 0
                        continue
                    time.sleep(0.1)
                    continue
                failures = 0
                if not self.source.live:
                    while not self._taken.acquire(timeout=0.1):
                        if self._stop.is_set():
                            return
                self.frames += 1
                self._latest = frame
                self._box.put(frame)
        finally:
            self.source.release()
            self._captured.set()
            self._box.close()

    def _decode(self) -> None:
        try:
            self._decode_frames()
        finally:
            self._stop.set()  # a capture thread waiting on back-pressure must not wait forever

    def _decode_frames(self) -> None:
        decoder = FrameDecoder()
        fps = self.source.fps or FOLDER_FPS
        while not self._stop.is_set():
            frame = self._box.take(timeout=0.2)
            if frame is None:
                if self._captured.is_set():
                    break
                continue
            if not self.source.live:
                self._taken.release()
            at = self._clock() if self.source.live else self.decoded / fps
            try:
                codes = decoder.decode(frame)
            except ValueError:
                log.exception("a frame could not be decoded")
                continue
            finally:
                self.decoded += 1
            for text in self._debouncer.seen([(c.text, c.confirmed) for c in codes], at):
                try:
                    self._emit(Scanned(text, "camera"))
                except Exception:  # the agent's bug must not blind the camera
                    log.exception("emitting a camera scan failed")
