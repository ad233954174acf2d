"""Receiving a batch upload as it streams in: python-multipart's parser over the request
body, small fields kept, each file part written straight into a staged upload
(``archive.intake.upload``). Nothing waits for the whole body, and nothing of it is held in
memory but a field or a chunk at a time.

Whatever the body, the answer is :class:`~archive.intake.UploadRefused` with one line:
a form whose token does not come before its files, a field records does not know, a body
cut short (the closing boundary never came), or one python-multipart cannot parse.
"""

from __future__ import annotations

import secrets
from typing import Any

from anyio import to_thread
from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from archive.intake import StagedUpload, UploadRefused

FIELD_LIMIT = 4096  # bytes of one plain form field
FIELDS = ("csrf", "unit", "series", "classification", "languages", "requeue_of")


class Form:
    """python-multipart's callbacks: small fields kept, file parts written to the staged
    upload as they arrive. A file before a valid CSRF token refuses the whole form."""

    def __init__(self, staged: StagedUpload, csrf: str) -> None:
        self.staged, self.csrf = staged, csrf
        self.fields: dict[str, str] = {}
        self.checked = False
        self.ended = False  # the closing boundary came: the body is whole
        self._headers: dict[bytes, bytes] = {}
        self._name = b""
        self._value = b""
        self._field: str | None = None
        self._field_value = bytearray()
        self._file = False

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._data,
                "on_part_end": self._part_end, "on_end": self._end}

    def _end(self) -> None:
        self.ended = True

    def _part_begin(self) -> None:
        self._headers, self._field, self._file = {}, None, False
        self._field_value = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._name.lower()] = self._value
        self._name, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            if name not in FIELDS or name in self.fields:
                raise UploadRefused(f"unexpected form field {name[:40]!r}")
            self._field = name
            return
        filename = options[b"filename"].decode("utf-8", "replace")
        if not filename:
            return  # an empty file input
        if not self.checked:
            raise UploadRefused("the form has expired (no valid token before its files); "
                                "reload the page and try again")
        if name not in ("files", "folder", "manifest"):
            raise UploadRefused(f"unexpected file field {name!r}")
        self._file = self.staged.begin_file(filename, name)

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._file:
            self.staged.write(data[start:end])
        elif self._field is not None:
            self._field_value += data[start:end]
            if len(self._field_value) > FIELD_LIMIT:
                raise UploadRefused(f"the field {self._field!r} is too long")

    def _part_end(self) -> None:
        if self._file:
            self.staged.end_file()
            self._file = False
        elif self._field is not None:
            value = self._field_value.decode("utf-8", "replace")
            self.fields[self._field] = value
            if self._field == "csrf":
                self.checked = bool(self.csrf) and secrets.compare_digest(
                    value.encode(), self.csrf.encode())


async def receive(request: Request, form: Form) -> None:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UploadRefused("send the batch with the upload form (multipart/form-data)")
    try:
        parser = MultipartParser(options[b"boundary"], form.callbacks())
        async for chunk in request.stream():
            if chunk:
                await to_thread.run_sync(parser.write, chunk)  # disk writes off the event loop
    except (FormParserError, ValueError) as exc:  # a body that is not multipart as it says
        raise UploadRefused(f"the upload is not a well-formed form: {exc}"[:200]) from None
    if not form.ended:  # python-multipart's finalize() checks nothing: the end must be seen
        raise UploadRefused("the upload was cut off before its end; send it again")
    if not form.checked:
        raise UploadRefused("the form has expired; reload the page and try again")
