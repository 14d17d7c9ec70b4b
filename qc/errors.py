"""Domain errors: each carries a machine code and the HTTP status the API renders it with."""


class QCError(Exception):
    """Base of every error a client can cause; the API renders it as {"error", "detail"}."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, extra: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}  # more machine-readable fields for the error body
        if code is not None:
            self.code = code


class InvalidInput(QCError):
    """A well-formed request whose values the domain refuses."""

    code = "invalid_input"


class InvalidBarcode(QCError):
    """A code that cannot be a barcode (bad check digit, bad characters)."""

    code = "invalid_barcode"


class Unauthorized(QCError):
    status = 401
    code = "unauthorized"


class Forbidden(QCError):
    status = 403
    code = "forbidden"


class NotFound(QCError):
    status = 404
    code = "not_found"


class Conflict(QCError):
    status = 409
    code = "conflict"


class TooLarge(QCError):
    status = 413
    code = "too_large"


class UnsupportedMedia(QCError):
    status = 415
    code = "unsupported_media_type"


class Unusable(QCError):
    """A well-formed upload that cannot serve its purpose (a photo too blurred to be evidence)."""

    status = 422
    code = "unusable"
