"""Errors of the OCR engine, each carrying a reason a records officer understands.

``InputRejected`` means the document itself is bad and goes to quarantine; ``OcrFailed`` means
the engine could not finish (a tool crashed or timed out) and a rerun may succeed. Both are
branches of the project's one error tree (``config.errors``), which gives each its exit code.
"""

from __future__ import annotations

from config.errors import ExitCode, RecordsError


class InputRejected(RecordsError):
    """The input is not something we can turn into an archival copy (quarantine it)."""

    exit_code = ExitCode.quarantined


class OcrFailed(RecordsError):
    """A stage failed for a reason outside the input (tool missing, crashed, timed out)."""

    exit_code = ExitCode.failure
