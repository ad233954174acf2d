"""Reasons for failures that are not the scans' fault: what to do, never a secret."""

from __future__ import annotations

import errno

from sqlalchemy.exc import OperationalError

from flows.retries import explain


def test_disk_full_and_read_only_say_what_to_do() -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/archive/.staging/x.pdf")
    assert explain(full) == ("no space left on the disk (/archive/.staging/x.pdf): nothing of "
                             "the record was kept; queue the batch again when it is fixed")
    read_only = OSError(errno.EROFS, "Read-only file system", "/archive/.staging")
    assert explain(read_only) == ("cannot write /archive/.staging: Read-only file system; "
                                  "queue the batch again when it is fixed")


def test_database_errors_give_the_driver_line_not_the_statement() -> None:
    error = OperationalError("SELECT secret_column FROM records WHERE x = ?", {"x": "pw"},
                             Exception("connection refused\nIs the server running?"))
    reason = explain(error)
    assert reason.startswith("the catalog database was unavailable (connection refused)")
    assert "SELECT" not in reason and "pw" not in reason


def test_anything_else_is_named_by_its_type() -> None:
    assert explain(ValueError("odd")) == "ValueError: odd"
