"""The bench camera, on recorded video and image folders built from synthetic frames."""

import queue
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from stations import camera as camera_module
from stations.camera import (
    Camera,
    Debouncer,
    ImageSource,
    open_source,
)
from stations.check import CheckReport, describe, format_report
from stations.events import Event, Photographed, Scanned

EAN = "4006381333931"
W, H = 1280, 720
FPS = 10.0


def frame(code: str | None = EAN, *, at: tuple[int, int] = (400, 250)) -> np.ndarray:
    """A grey 1280x720 BGR frame with a bit of texture, and an EAN-13 pasted on it if given."""
    image = np.full((H, W), 120, np.uint8)
    cv2.putText(image, "packing bench 7", (40, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 30, 3)
    cv2.rectangle(image, (900, 400), (1200, 650), 200, -1)
    if code is not None:
        barcode = np.asarray(
            zxingcpp.create_barcode(code, zxingcpp.BarcodeFormat.EAN13).to_image(scale=4)
        )
        x, y = at
        image[y - 30 : y + barcode.shape[0] + 30, x - 40 : x + barcode.shape[1] + 40] = 255
        image[y : y + barcode.shape[0], x : x + barcode.shape[1]] = barcode
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


def write_video(path: Path, frames: list[np.ndarray], fps: float = FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (W, H))
    assert writer.isOpened(), "OpenCV cannot write MJPG in .avi here"
    for f in frames:
        writer.write(f)
    writer.release()
    return path


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.events if isinstance(e, Scanned)]


@pytest.fixture(scope="module")
def present_absent_present(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s with the code, 1 s without, 1 s with it again, at 10 fps."""
    frames = [frame()] * 10 + [frame(None)] * 10 + [frame(at=(430, 260))] * 10
    return write_video(tmp_path_factory.mktemp("video") / "shift.avi", frames)


def test_a_code_held_counts_once_and_again_after_it_left(present_absent_present: Path) -> None:
    recorder = Recorder()
    camera = Camera(open_source(str(present_absent_present)), emit=recorder)

    camera.start()
    assert camera.join(timeout=20), "the camera did not finish the file"

    assert recorder.codes == [EAN, EAN]
    assert all(e.source == "camera" for e in recorder.events if isinstance(e, Scanned))
    assert camera.frames == camera.decoded == 30  # back-pressure: no frame of a file skipped
    assert camera.dropped == 0


def test_a_short_absence_does_not_count_again(tmp_path: Path) -> None:
    frames = [frame()] * 5 + [frame(None)] * 3 + [frame()] * 5  # 0.3 s away < 0.7 s
    recorder = Recorder()
    camera = Camera(open_source(str(write_video(tmp_path / "v.avi", frames))), emit=recorder)

    camera.start()
    assert camera.join(timeout=20)

    assert recorder.codes == [EAN]


def test_debounce_by_frame_time() -> None:
    debounce = Debouncer(gone_s=0.7)

    assert debounce.seen([("A", False)], at=0.0) == []  # not confirmed: not counted yet
    assert debounce.seen([("A", True)], at=0.1) == ["A"]
    assert debounce.seen([("A", True)], at=0.2) == []
    assert debounce.seen([], at=0.8) == []  # 0.6 s away
    assert debounce.seen([("A", True), ("B", True)], at=0.85) == ["B"]
    assert debounce.seen([], at=1.6) == []
    assert debounce.seen([("A", True)], at=1.6) == ["A"]  # 0.75 s away: counts again


def test_live_frames_are_timed_by_the_clock() -> None:
    class Live:
        width, height, fps, live = W, H, 30.0, True

        def __init__(self) -> None:
            self.frames: queue.Queue[np.ndarray] = queue.Queue()
            self.released = False

        def read(self) -> np.ndarray | None:
            try:
                return self.frames.get(timeout=0.05)
            except queue.Empty:
                return None  # a failed read: a live camera is retried

        def release(self) -> None:
            self.released = True

    now = [0.0]
    source, recorder = Live(), Recorder()
    camera = Camera(source, emit=recorder, clock=lambda: now[0])
    camera.start()
    for seconds, image in [(0.0, frame()), (0.3, frame(None)), (0.6, frame()),
                           (1.0, frame(None)), (1.5, frame())]:  # fmt: skip
        now[0] = seconds
        decoded = camera.decoded
        source.frames.put(image)
        _wait_for(lambda: camera.decoded > decoded)  # noqa: B023 - called at once
    camera.stop()

    assert recorder.codes == [EAN, EAN]  # away 0.6 s, then 0.9 s
    assert source.released
    assert camera.frames == 5


def test_a_live_camera_that_goes_silent_is_opened_again(monkeypatch: pytest.MonkeyPatch) -> None:
    class Dead:
        width, height, fps, live = W, H, 30.0, True
        released = False

        def read(self) -> np.ndarray | None:
            time.sleep(0.001)
            return None

        def release(self) -> None:
            self.released = True

    class Back(Dead):
        def __init__(self) -> None:
            self.left = [frame()]

        def read(self) -> np.ndarray | None:
            return self.left.pop() if self.left else super().read()

    monkeypatch.setattr(camera_module, "_LIVE_FAILURES", 3)
    dead, attempts, recorder = Dead(), [], Recorder()

    def reopen() -> Dead:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("not plugged in yet")
        return Back()

    camera = Camera(dead, emit=recorder, reopen=reopen, reopen_pause_s=0.01)
    camera.start()
    _wait_for(lambda: recorder.codes == [EAN])
    camera.stop()
    assert dead.released and camera.reopened == 1 and len(attempts) == 2


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_folder_of_images_plays_in_name_order(tmp_path: Path) -> None:
    for i, image in enumerate([frame(), frame(None), frame()]):
        cv2.imwrite(str(tmp_path / f"{i:03}.png"), image)
    (tmp_path / "notes.txt").write_text("not an image")
    recorder = Recorder()

    source = open_source(str(tmp_path))
    assert isinstance(source, ImageSource)
    assert (source.width, source.height, source.live) == (W, H, False)
    camera = Camera(source, emit=recorder, debounce_gone_s=0.05)
    camera.start()
    assert camera.join(timeout=20)

    assert camera.frames == 3
    assert recorder.codes == [EAN, EAN]  # 0.1 s a frame at the folder's 10 fps


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("missing.avi", None, "no camera index, stream URL"),
        ("empty", b"", "holds no .png"),
        ("x.avi", b"not a video", "not a video file"),
        ("x.png", b"not a png", "not a readable image"),
    ],
)
def test_open_source_says_what_cannot_be_opened(
    tmp_path: Path, name: str, data: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if name == "empty":
        path.mkdir()
    elif data is not None:
        path.write_bytes(data)

    with pytest.raises(ValueError, match=message):
        open_source(str(path))


def test_open_source_device_that_is_not_there() -> None:
    with pytest.raises(ValueError, match="camera 97 cannot be opened"):
        open_source("97")


def test_photo_is_a_jpeg_checked_locally(tmp_path: Path) -> None:
    sharp = frame()
    blurred = cv2.GaussianBlur(sharp, (0, 0), 8)
    shots: list[Photographed | None] = []
    for image in (sharp, blurred):
        cv2.imwrite(str(tmp_path / "only.png"), image)
        camera = Camera(open_source(str(tmp_path / "only.png")), emit=lambda e: None)
        assert camera.photo() is None  # no frame yet
        camera.start()
        camera.join(timeout=20)
        assert camera.latest() is not None
        shots.append(camera.photo())

    good, bad = shots
    assert good is not None and bad is not None
    assert good.jpeg.startswith(b"\xff\xd8\xff")
    decoded = cv2.imdecode(np.frombuffer(good.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (H, W, 3)
    assert good.reasons == ()
    assert any("too blurred" in reason for reason in bad.reasons)


def test_describe_reports_size_rate_and_codes(present_absent_present: Path) -> None:
    report = describe(str(present_absent_present), seconds=20)

    assert (report.width, report.height, report.fps) == (W, H, FPS)
    assert report.frames == 30
    assert report.measured_fps > 0
    assert report.codes == [EAN]

    text = format_report(report)
    assert "1280x720" in text
    assert "10 fps declared" in text
    assert EAN in text


def test_format_report_without_codes_and_with_gs() -> None:
    bare = CheckReport(640, 480, 0.0, 12.5, 37, 3.0)
    assert "frame rate not declared" in format_report(bare)
    assert "codes seen: none" in format_report(bare)

    gs1 = CheckReport(640, 480, 30.0, 29.9, 90, 3.0, ["0109506000134352\x1d10ABC"])
    assert "0109506000134352<GS>10ABC" in format_report(gs1)
