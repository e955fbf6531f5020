"""multipart/form-data read as a stream: small fields are kept, the file flows through unbuffered.

Starlette's form parser spools files to temporary disk; a 2 GB lesson recording must instead go
straight from the socket to object storage, so this reads ``request.stream()`` with python-multipart's
push parser and hands the file's bytes on chunk by chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from services.errors import AppError
from services.request_limits import allow_streamed_body

MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 20


class InvalidForm(AppError):
    status_code = 422
    code = "invalid_payload"


class UploadInterrupted(AppError):
    status_code = 400
    code = "upload_interrupted"


@dataclass(frozen=True)
class FilePart:
    field_name: str
    filename: str
    content_type: str


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    file: FilePart | None = None
    data: bytearray = field(default_factory=bytearray)


class StreamingForm:
    """Iterate ``await next_file()`` / ``file_chunks()``; fields seen so far are in ``fields``."""

    def __init__(self, request: Request) -> None:
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        if content_type != b"multipart/form-data" or b"boundary" not in options:
            raise InvalidForm("Send multipart/form-data with a boundary")
        # Files flow through; fields are capped below (MAX_FIELD_BYTES, MAX_FIELDS).
        allow_streamed_body(request)
        self.fields: dict[str, str] = {}
        self._stream = request.stream()
        self._parser = MultipartParser(
            options[b"boundary"],
            {
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
            },
        )
        self._part = _Part()
        self._header_name = b""
        self._header_value = b""
        # Events produced by the last chunk fed to the parser: a FilePart, bytes of it, or None at its end.
        self._events: list[FilePart | bytes | None] = []
        self._finished = False
        self._in_file = False

    # -- parser callbacks (synchronous; they only record) --------------------------------------------

    def _on_part_begin(self) -> None:
        self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._part.headers[self._header_name.lower()] = self._header_value
        self._header_name = b""
        self._header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._part.headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise InvalidForm('Each form part needs a Content-Disposition "name"')
        self._part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self._part.file = FilePart(
                field_name=self._part.name,
                filename=options[b"filename"].decode("utf-8", "replace"),
                content_type=self._part.headers.get(b"content-type", b"").decode("latin-1"),
            )
            self._events.append(self._part.file)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part.file is not None:
            self._events.append(bytes(data[start:end]))
            return
        if len(self._part.data) + (end - start) > MAX_FIELD_BYTES:
            raise InvalidForm(f"Form field {self._part.name!r} is larger than {MAX_FIELD_BYTES} bytes")
        self._part.data.extend(data[start:end])

    def _on_part_end(self) -> None:
        if self._part.file is not None:
            self._events.append(None)
            return
        if len(self.fields) >= MAX_FIELDS:
            raise InvalidForm("Too many form fields")
        try:
            self.fields[self._part.name] = self._part.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidForm(f"Form field {self._part.name!r} is not UTF-8 text") from exc

    # -- reading ----------------------------------------------------------------------------------

    async def _feed(self) -> bool:
        """Feed one more chunk of the body to the parser; False once the body has ended."""
        if self._finished:
            return False
        try:
            chunk = await self._stream.__anext__()
        except StopAsyncIteration:
            chunk = b""
        except ClientDisconnect as exc:
            raise UploadInterrupted("The connection closed before the upload finished") from exc
        try:
            if chunk:
                self._parser.write(chunk)
            else:
                self._parser.finalize()
                self._finished = True
        except AppError:
            raise
        except Exception as exc:  # python-multipart raises its own errors for malformed bodies
            raise InvalidForm("The multipart body is malformed") from exc
        return True

    async def _next_event(self) -> FilePart | bytes | bool | None:
        """The next recorded event, or False when the body has no more."""
        while not self._events:
            if not await self._feed():
                return False
        return self._events.pop(0)

    async def next_file(self) -> FilePart | None:
        """Read on until a file part begins (fields on the way land in ``fields``); None at the end."""
        if self._in_file:
            async for _ in self.file_chunks():
                pass
        while True:
            event = await self._next_event()
            if event is False:
                return None
            if isinstance(event, FilePart):
                self._in_file = True
                return event

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The bytes of the file part ``next_file`` returned, as they arrive."""
        while self._in_file:
            event = await self._next_event()
            if event is False:
                raise UploadInterrupted("The upload ended in the middle of the file")
            if event is None:
                self._in_file = False
            elif isinstance(event, bytes) and event:
                yield event

    async def read_remaining_fields(self) -> None:
        """Consume the rest of the body; a second file is refused."""
        while True:
            event = await self._next_event()
            if event is False:
                return
            if isinstance(event, FilePart):
                raise InvalidForm("Send one file per request")
