"""Codes in live video, pure: camera frames in, codes out, within a 30 fps budget on one core.

A bench camera gives 1920x1080 frames; zxing-cpp over a whole frame takes longer than a
frame lasts. So `FrameDecoder` looks first where codes are likely: on the frame at a quarter
of its size, the gradient energy (|dx| + |dy| taken at full size, then averaged, so that bars
one pixel wide still count) is thresholded, closed into blobs, opened to drop the thin lines
of plain edges; lines of print (blobs ten times longer than wide) are left out, and the
rest, padded for quiet zones and glare, are read at full resolution as `decode.read` reads an
image, within a share of the frame's area. Only when no region gives a code is the whole
frame read, at half size by zxing-cpp alone (about a quarter of a full read): on the first
such frame and then every `full_every`-th, or on each while that is where codes are found.
Buffers are allocated once per frame size and reused.

`LatestFrame` lets a slow decode skip frames instead of queueing them, and a read that needs
confirming (see `qc.vision.decode`) is confirmed when the next frame reads it again.
"""

import threading
from dataclasses import replace

import cv2
import numpy as np

from qc.vision.decode import SMALL_IMAGE_SIDE, Code, confirm, read, without_conflicts

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in full-frame pixels, x1 and y1 excluded

SCALE = 4  # the region search runs on the frame at 1/SCALE of its size
MIN_ENERGY = 12  # mean |dx| + |dy| over a SCALE x SCALE block that may be part of a code
MAX_REGIONS = 8
MAX_REGION_SHARE = 0.25  # regions read per frame, at most this share of the frame's area
ZBAR_SHARE = 0.15  # zbar reads regions up to this share of the frame's area
MAX_ASPECT = 10  # a blob longer than this many times its width is print, not a code
UPSCALE_REGION_SIDE = 360  # pixels: a region up to this size with nothing found is tried at 2x
_CLOSE = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
_OPEN = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))


class FrameDecoder:
    """Reads camera frames one after another, reusing its buffers; one per decoding thread.

    Args:
        full_every: when no region gives a code, the whole frame is read (at half size) on
            every this-many-th such frame; 1 reads it on each.
    """

    def __init__(self, *, full_every: int = 3) -> None:
        if full_every < 1:
            raise ValueError("full_every must be at least 1")
        self.full_every = full_every
        self._shape: tuple[int, ...] = ()
        self._misses = 0
        self._previous: list[Code] = []

    def _allocate(self, shape: tuple[int, int]) -> None:
        h, w = shape
        hs, ws = h // SCALE, w // SCALE
        self._gray = np.empty((h, w), np.uint8)
        # Zeroed once: the last column of dx and the last row of dy are never written.
        self._dx = np.zeros((hs * SCALE, ws * SCALE), np.uint8)
        self._dy = np.zeros((hs * SCALE, ws * SCALE), np.uint8)
        self._small = np.empty((hs, ws), np.uint8)
        self._mask = np.empty((hs, ws), np.uint8)
        self._half = np.empty((h // 2, w // 2), np.uint8)

    def _to_gray(self, frame: np.ndarray) -> np.ndarray:
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3):
            raise ValueError(f"expected a uint8 BGR or grayscale frame, got {frame.dtype}")
        if frame.ndim == 3 and frame.shape[2] != 3:
            raise ValueError(f"expected a BGR frame, got {frame.shape[2]} channels")
        if frame.shape[:2] != self._shape:
            self._allocate(frame.shape[:2])
            self._shape = frame.shape[:2]
        if frame.ndim == 2:
            return frame
        cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY, dst=self._gray)
        return self._gray

    def regions(self, frame: np.ndarray) -> list[Box]:
        """Where codes are likely in a frame, most textured first.

        Args:
            frame: a BGR or grayscale uint8 frame.

        Returns:
            Boxes in frame pixels, padded, clipped to the frame, none overlapping another.
        """
        return self._regions(self._to_gray(frame))

    def _regions(self, gray: np.ndarray) -> list[Box]:
        h, w = self._dx.shape
        if h == 0 or w == 0:
            return []
        cv2.absdiff(gray[:h, 1:w], gray[:h, : w - 1], dst=self._dx[:, : w - 1])
        cv2.absdiff(gray[1:h, :w], gray[: h - 1, :w], dst=self._dy[: h - 1])
        cv2.add(self._dx, self._dy, dst=self._dx)  # saturates at 255: fine for a threshold
        small, mask = self._small, self._mask
        cv2.resize(self._dx, small.shape[::-1], dst=small, interpolation=cv2.INTER_AREA)
        cv2.threshold(small, MIN_ENERGY - 1, 255, cv2.THRESH_BINARY, dst=mask)
        cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _CLOSE, dst=mask)
        cv2.morphologyEx(mask, cv2.MORPH_OPEN, _OPEN, dst=mask)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        scored = []
        for contour in contours:
            x, y, bw, bh = cv2.boundingRect(contour)
            (_, (long, short), _) = cv2.minAreaRect(contour)
            long, short = max(long, short) + 1, min(long, short) + 1
            if bw * bh < 6 or long > MAX_ASPECT * short:  # too small to read; a line of print
                continue
            energy = float(cv2.mean(small[y : y + bh, x : x + bw], mask[y : y + bh, x : x + bw])[0])
            scored.append((energy, _padded((x, y, x + bw, y + bh), gray.shape)))
        scored.sort(reverse=True)
        boxes: list[Box] = []
        budget = MAX_REGION_SHARE * gray.shape[0] * gray.shape[1]
        for _, box in scored:
            more = _merged(boxes, box)
            if sum((b[2] - b[0]) * (b[3] - b[1]) for b in more) > budget:
                continue
            boxes = more
            if len(boxes) == MAX_REGIONS:
                break
        return boxes

    def decode(self, frame: np.ndarray) -> list[Code]:
        """The codes in a frame, unconfirmed reads of the previous frame now confirmed.

        Args:
            frame: a BGR (H x W x 3) or grayscale (H x W) uint8 frame.

        Returns:
            The codes found, with corners in frame pixels; empty if none.

        Raises:
            ValueError: the array is not a uint8 BGR or grayscale frame.
        """
        gray = self._to_gray(frame)
        found: list[Code] = []
        # zbar costs as much as zxing-cpp per pixel and rarely reads what zxing-cpp missed: it
        # reads regions zxing-cpp found nothing in up to a share of the frame, the likeliest
        # first, so that print cannot eat the frame's time.
        zbar_pixels = ZBAR_SHARE * gray.size
        for x0, y0, x1, y1 in self._regions(gray):
            crop = gray[y0:y1, x0:x1]
            zbar = crop.size <= zbar_pixels
            codes = read(crop, upscale_up_to=UPSCALE_REGION_SIDE, zbar=zbar)
            if zbar and not (codes and codes[0].decoder == "zxing"):  # zbar ran
                zbar_pixels -= crop.size
            found += [_moved(code, x0, y0, 1) for code in codes]
        if not found:
            self._misses += 1
            if (self._misses - 1) % self.full_every == 0:  # the first miss, then every n-th
                found = self._whole(gray)
        if found:  # a code only the whole frame shows is looked for there again next frame
            self._misses = 0
        codes = confirm(without_conflicts(found), earlier=self._previous)
        self._previous = codes
        return codes

    def _whole(self, gray: np.ndarray) -> list[Code]:
        """The whole frame: a camera frame at half size by zxing-cpp alone, a small one fully."""
        if max(gray.shape) <= SMALL_IMAGE_SIDE:
            return read(gray)
        half = self._half
        cv2.resize(gray, half.shape[::-1], dst=half, interpolation=cv2.INTER_AREA)
        return [_moved(c, 0, 0, 2) for c in read(half, upscale_up_to=0, zbar=False)]


def _padded(small_box: Box, shape: tuple[int, ...]) -> Box:
    """A box of the quarter-size frame in frame pixels, padded for quiet zones and glare."""
    x0, y0, x1, y1 = (v * SCALE for v in small_box)
    pad = 16 + max(x1 - x0, y1 - y0) // 8  # quiet zones: at most 12 % of a code's length
    h, w = shape[:2]
    return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)


def _merged(boxes: list[Box], box: Box) -> list[Box]:
    """The boxes with one more, overlapping boxes joined so no pixel is read twice."""
    while True:
        touching = [b for b in boxes if b[0] < box[2] and box[0] < b[2] and b[1] < box[3]
                    and box[1] < b[3]]  # fmt: skip
        if not touching:
            return [*boxes, box]
        boxes = [b for b in boxes if b not in touching]
        for b in touching:
            box = (min(box[0], b[0]), min(box[1], b[1]), max(box[2], b[2]), max(box[3], b[3]))


def _moved(code: Code, dx: int, dy: int, scale: int) -> Code:
    corners = tuple((x * scale + dx, y * scale + dy) for x, y in code.corners)
    return replace(code, corners=corners)


class LatestFrame:
    """A one-frame mailbox: the camera thread puts, the decoding thread takes the newest.

    A frame put before the last one was taken replaces it (and counts in `dropped`), so a
    slow decode skips frames instead of falling behind. The array is handed over, not
    copied: the camera must not write into it after `put`.
    """

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._frame: np.ndarray | None = None
        self._closed = False
        self.dropped = 0

    def put(self, frame: np.ndarray) -> None:
        """Leave a frame for the decoding thread, replacing one it has not taken yet."""
        with self._ready:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._ready.notify()

    def take(self, timeout: float | None = None) -> np.ndarray | None:
        """The newest frame, waiting up to `timeout` seconds for one.

        Args:
            timeout: seconds to wait; None waits until a frame comes or the box is closed.

        Returns:
            The frame, or None when none came in time or the box was closed.
        """
        with self._ready:
            self._ready.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        """Wake a waiting `take` for good: the camera has stopped."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
