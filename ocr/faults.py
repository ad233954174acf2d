"""Telling a document's faults from the machine's, wherever a stage reads the input.

A library that cannot parse a file raises whatever it raises: pikepdf a ``PdfError`` ("content
stream ... errors while decoding"), Pillow an ``OSError`` without an errno ("image file is
truncated"), a ``SyntaxError``, ``ValueError``, ``KeyError`` or ``TypeError`` from a damaged
header, zlib and struct their own errors. All of these are deterministic: the same bytes fail
the same way on any machine and on every rerun, so the document is the problem. It is refused
with a reason (:class:`~ocr.errors.InputRejected`, quarantined), never left "failed" to be
queued again forever. What belongs to the machine stays a failure that a rerun may cure: an
``OSError`` with an errno (disk full, I/O error, permissions), memory, time-outs, a missing
tool (``OcrFailed``).
"""

from __future__ import annotations

import errno
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import pikepdf
from PIL import Image

from config.errors import RecordsError
from ocr.errors import InputRejected

PARSE_ERRORS: tuple[type[BaseException], ...] = (
    pikepdf.PdfError, Image.DecompressionBombError, SyntaxError, EOFError, ValueError,
    TypeError, KeyError, IndexError, ZeroDivisionError, OverflowError, RecursionError,
    struct.error, zlib.error,
)
"""What parsers raise for bytes they cannot make sense of (Pillow's decoders meet a damaged
header with any of these; hypothesis found TypeError "Missing dimensions" and KeyError on TIFF
tags)."""


_MACHINE_WORDS = tuple(os.strerror(code) for code in (
    errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.ENOMEM, errno.EROFS))


def is_input_fault(exc: BaseException) -> bool:
    """Whether ``exc``, raised while reading a document, is the document's fault."""
    if isinstance(exc, RecordsError):
        return isinstance(exc, InputRejected)
    if any(words in str(exc) for words in _MACHINE_WORDS):
        return False  # qpdf and the decoders report a full disk in their own words
    if isinstance(exc, OSError):
        return exc.errno is None  # Pillow's "truncated" and "broken data stream" carry none
    return isinstance(exc, PARSE_ERRORS)


def detail(exc: BaseException) -> str:
    """The library's own words, on one line and bounded: enough for a person to tell a
    truncated file from a damaged one, never a traceback."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Refuse the document when reading ``what`` (e.g. "page 3") fails for its own sake.

    Errors of records' own tree and the machine's faults pass through unchanged.
    """
    try:
        yield
    except RecordsError:
        raise
    except Exception as exc:
        if not is_input_fault(exc):
            raise
        raise InputRejected(f"{what} is damaged and cannot be read ({detail(exc)})") from exc
