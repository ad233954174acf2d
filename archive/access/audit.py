"""The audit log: every search, view, download and verification, hash-chained.

One append-only JSON-lines file, ``RECORDS_HOME/audit/audit.jsonl`` (a ``ChainedLog`` of
the record store): who, when, what, on which record, from where, and the outcome (including
refusals). A deleted, inserted or edited entry breaks the chain, which ``records audit
verify`` reports; it also prints the head hash, which an auditor keeps elsewhere to catch a
cut-off tail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.store import ChainedLog


@dataclass(frozen=True)
class AuditLog:
    """The audit log of a RECORDS_HOME."""

    home: Path

    @property
    def path(self) -> Path:
        return self.home / "audit" / "audit.jsonl"

    def record(self, user: str, action: str, *, record_id: str | None = None,
               outcome: str = "ok", **detail: Any) -> str:
        """Append one entry; return the log's new head hash."""
        entry = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "user": user,
                 "action": action, "record_id": record_id, "outcome": outcome, **detail}
        return ChainedLog(self.path).append(entry)

    def entries(self) -> list[dict[str, Any]]:
        return ChainedLog(self.path).read()

    def head(self) -> str:
        """The hash of the last entry: an auditor keeps it to catch a cut-off tail."""
        return ChainedLog(self.path).check()[1]

    def verify(self, head: str | None = None) -> list[str]:
        """Problems with the log (empty: intact, and ending at ``head`` when one is given)."""
        problems, last = ChainedLog(self.path).check()
        if head is not None and head != last:  # an empty head is no head: it never matches
            problems.append(f"the log ends at {last[:16]}..., not at the head {head[:16]}... "
                            "kept elsewhere: entries were cut off or added at the end")
        return problems
