"""Reading one file out of a multipart upload, refusing what is too big or of the wrong kind
while it streams in, before the whole body is held anywhere.

Starlette's own form parsing spools every part to a temporary file first and checks nothing
on the way. Here the body is fed to python-multipart's streaming parser chunk by chunk: a
declared Content-Length over the limit is refused before a byte is read, an undeclared one as
soon as the count passes the limit, and a file part whose first bytes are not a JPEG or PNG
signature as soon as those bytes arrive. The client's file name is never used for anything.
"""

from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from qc.errors import InvalidInput, TooLarge, UnsupportedMedia

_OVERHEAD = 16 * 1024  # multipart boundaries and part headers around the file
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
_SNIFF = 8


@dataclass
class _Parts:
    wanted: str
    limit: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    name: bytes = b""
    value: bytes = b""
    in_file: bool = False
    seen_file: bool = False
    data: bytearray = field(default_factory=bytearray)

    def part_begin(self) -> None:
        self.headers, self.in_file = [], False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def header_end(self) -> None:
        self.headers.append((self.name.lower(), self.value))
        self.name = self.value = b""

    def headers_finished(self) -> None:
        for name, value in self.headers:
            if name == b"content-disposition":
                _, options = parse_options_header(value)
                if options.get(b"name") == self.wanted.encode() and not self.seen_file:
                    self.in_file = self.seen_file = True

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            return
        before = len(self.data)
        self.data += data[start:end]
        if len(self.data) > self.limit:
            raise TooLarge(f"the photo is larger than {_mb(self.limit)}", code="photo_too_large")
        if before < _SNIFF <= len(self.data) and not self.data.startswith(_SIGNATURES):
            raise UnsupportedMedia("send the photo as a JPEG or PNG image")

    def part_end(self) -> None:
        self.in_file = False


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


async def read_file_part(request: Request, *, field: str, limit: int) -> bytes:
    """The bytes of the multipart part named `field`, at most `limit` of them.

    Raises:
        TooLarge: the body or the file is over the limit (413).
        UnsupportedMedia: not multipart/form-data, or the file is not a JPEG or PNG (415).
        InvalidInput: no such part, an empty file, or a malformed body (400).
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMedia(
            f"send the photo as multipart/form-data with a `{field}` part", code="not_multipart"
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _OVERHEAD:
        raise TooLarge(f"the upload is larger than {_mb(limit)}", code="photo_too_large")
    parts = _Parts(wanted=field, limit=limit)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": parts.part_begin,
            "on_header_field": parts.header_field,
            "on_header_value": parts.header_value,
            "on_header_end": parts.header_end,
            "on_headers_finished": parts.headers_finished,
            "on_part_data": parts.part_data,
            "on_part_end": parts.part_end,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit + _OVERHEAD:
                raise TooLarge(f"the upload is larger than {_mb(limit)}", code="photo_too_large")
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise InvalidInput("the multipart body is malformed", code="malformed_upload") from exc
    except ClientDisconnect as exc:
        raise InvalidInput("the upload was cut off", code="upload_interrupted") from exc
    if not parts.seen_file:
        raise InvalidInput(f"the upload has no `{field}` part", code="missing_file")
    if not parts.data:
        raise InvalidInput("the photo file is empty", code="empty_file")
    if len(parts.data) < _SNIFF or not parts.data.startswith(_SIGNATURES):
        raise UnsupportedMedia("send the photo as a JPEG or PNG image")
    return bytes(parts.data)
