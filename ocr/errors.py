"""Errors of the OCR engine, each carrying a reason a records officer understands.

``InputRejected`` means the document itself is bad and goes to quarantine; ``OcrFailed`` means
the engine could not finish (a tool crashed or timed out) and a rerun may succeed.
"""

from __future__ import annotations


class InputRejected(Exception):
    """The input is not something we can turn into an archival copy (quarantine it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OcrFailed(Exception):
    """A stage failed for a reason outside the input (tool missing, crashed, timed out)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExitCode:
    """Stable exit codes of the command line, as scripts depend on them."""

    ok = 0
    failure = 1
    usage = 2
    quarantined = 3
