"""What the bench's devices report to the agent: plain values, passed to an `emit` callback.

Device readers run on threads of their own and call `emit` with one of these; the agent's
runner takes them in order from one queue, so nothing here needs a lock.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Scanned:
    """A code read by the handheld scanner, the camera, or typed in."""

    code: str
    source: Literal["scanner", "camera", "manual"]
    at: datetime = field(default_factory=now)


@dataclass(frozen=True)
class Weighed:
    """A stable reading of the scale, or a weight the packer typed, in grams."""

    grams: int
    at: datetime = field(default_factory=now)


@dataclass(frozen=True)
class Photographed:
    """A photo of the open parcel from the bench camera, already through the local quality
    check: `reasons` is empty when it is fit to upload."""

    jpeg: bytes
    reasons: tuple[str, ...] = ()
    at: datetime = field(default_factory=now)


Event = Scanned | Weighed | Photographed
Emit = Callable[[Event], None]
