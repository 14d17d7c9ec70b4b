"""Signed, expiring photo URLs: a browser can show a photo in an <img> without a key.

The signature (HMAC-SHA256 under QC_SECRET_KEY) covers the photo, the size, the expiry and
who the URL was made for, so a URL cannot be stretched to another photo or a later time, and
every view it allows is audited in that person's name. The server serves the image itself
(no object-store pre-signed URL): that is what makes each view auditable.
"""

import hashlib
import hmac
import time
from typing import Literal
from urllib.parse import urlencode

from qc.errors import Forbidden

Size = Literal["full", "thumb"]


def _signature(secret: str, photo_id: int, size: str, expires: int, viewer: str) -> str:
    message = f"photo:{photo_id}:{size}:{expires}:{viewer}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def signed_photo_url(
    *, prefix: str, secret: str, photo_id: int, size: Size, viewer: str, ttl: int
) -> str:
    """The path and query of a URL that serves the photo to anyone holding it for `ttl` s."""
    expires = int(time.time()) + ttl
    query = {"size": size, "expires": expires, "by": viewer,
             "sig": _signature(secret, photo_id, size, expires, viewer)}  # fmt: skip
    return f"{prefix}/photos/{photo_id}?{urlencode(query)}"


def check_signed(
    *, secret: str, photo_id: int, size: str, expires: int, viewer: str, sig: str
) -> None:
    """Accept a signed URL's parameters, or refuse them.

    Raises:
        Forbidden: the signature does not match, or the URL has expired.
    """
    expected = _signature(secret, photo_id, size, expires, viewer)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise Forbidden("this photo link is not valid", code="bad_signature")
    if expires < time.time():
        raise Forbidden("this photo link has expired; open the parcel again", code="link_expired")
