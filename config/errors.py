"""The root of records' error tree: every error carries the reason a person reads and the exit
code a command ends with.

Modelled on OCRmyPDF's ``exceptions.py``: each kind of failure is a class that knows its exit
code, so a command never maps errors to codes by hand, and a failure is named for what it is
(a signing failure is a :class:`SigningError`, not an OCR failure). The tree lives here, in the
bottom layer, because every layer raises into it (``ocr`` may import nothing of the project but
``config``). The branches live with the code that raises them:

- ``ocr.errors``: ``InputRejected`` (the document is bad: quarantined, exit 3) and
  ``OcrFailed`` (an engine crashed or timed out: exit 1);
- ``archive.signing``: ``SigningError`` (exit 1) and ``SigningSetupError`` (no usable key or
  trust roots: exit 2);
- the wings' usage errors (a malformed query, a broken roadmap file, an unknown account): exit 2.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """Stable exit codes of the command line: scripts and the hot folder depend on them."""

    ok = 0
    failure = 1  # the run or a document failed for a reason outside the input; rerun
    usage = 2  # the command was used wrongly, or its setup (settings, keys) is wrong
    quarantined = 3  # some documents were refused as bad input and set aside


class RecordsError(Exception):
    """Something records could not do, with a reason written for the person reading it."""

    exit_code: ClassVar[ExitCode] = ExitCode.failure

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UsageError(RecordsError):
    """The command, a setting or a file it was given cannot be used as it is (exit 2)."""

    exit_code = ExitCode.usage
