"""Signed, expiring links: photo URLs a browser shows in an <img>, and evidence bundles shared
with a marketplace or a carrier, both without a key.

The signature (HMAC-SHA256 under QC_SECRET_KEY) covers the object, its expiry and who the link
was made for (and a photo's size), so a link cannot be stretched to another object or a later
time, and every download it allows is audited in that person's name. Each kind of link signs
a message with its own prefix, so a photo link's signature never opens an evidence bundle.
The server serves the bytes itself (no object-store pre-signed URL): that is what makes each
use auditable.
"""

import hashlib
import hmac
import time
from typing import Literal
from urllib.parse import urlencode

from qc.errors import Forbidden

Size = Literal["full", "thumb"]


def _sign(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def _check(expected: str, sig: str, expires: int, *, what: str, again: str) -> None:
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise Forbidden(f"this {what} link is not valid", code="bad_signature")
    if expires < time.time():
        raise Forbidden(f"this {what} link has expired; {again}", code="link_expired")


def _signature(secret: str, photo_id: int, size: str, expires: int, viewer: str) -> str:
    return _sign(secret, f"photo:{photo_id}:{size}:{expires}:{viewer}")


def _evidence_signature(secret: str, parcel_id: int, expires: int, by: str) -> str:
    return _sign(secret, f"evidence:{parcel_id}:{expires}:{by}")


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
    _check(expected, sig, expires, what="photo", again="open the parcel again")


def signed_evidence_url(*, prefix: str, secret: str, parcel_id: int, by: str, expires: int) -> str:
    """The path and query of a URL that downloads the parcel's evidence bundle until `expires`
    (unix seconds), in the name of `by`, who shared it."""
    query = {"parcel": parcel_id, "expires": expires, "by": by,
             "sig": _evidence_signature(secret, parcel_id, expires, by)}  # fmt: skip
    return f"{prefix}/evidence/shared?{urlencode(query)}"


def check_evidence_signed(*, secret: str, parcel_id: int, expires: int, by: str, sig: str) -> None:
    """Accept a shared evidence link's parameters, or refuse them.

    Raises:
        Forbidden: the signature does not match, or the link has expired.
    """
    expected = _evidence_signature(secret, parcel_id, expires, by)
    _check(expected, sig, expires, what="evidence", again="ask for a new one")
