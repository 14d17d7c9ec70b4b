"""Signed photo URLs for a reader of parcels, or none for those who may not see photos."""

from collections.abc import Callable
from functools import partial

from api.deps import API_PREFIX, PHOTO_VIEWERS
from api.settings import get_settings
from api.signing import signed_photo_url
from qc.identity import Principal

PhotoUrls = Callable[[int], tuple[str, str]]


def photo_urls_for(reader: Principal) -> PhotoUrls | None:
    """(image URL, thumbnail URL) of a photo, signed in the reader's name; None for stations."""
    if reader.role not in PHOTO_VIEWERS:
        return None
    settings = get_settings()

    def urls(photo_id: int) -> tuple[str, str]:
        sign = partial(
            signed_photo_url,
            prefix=API_PREFIX,
            secret=settings.secret_key,
            photo_id=photo_id,
            viewer=reader.label,
            ttl=settings.photo_url_seconds,
        )
        return sign(size="full"), sign(size="thumb")

    return urls
