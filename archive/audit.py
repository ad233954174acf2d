"""The audit log: every search, view, download and verification, hash-chained.

One append-only JSON-lines file, ``RECORDS_HOME/audit/audit.jsonl`` (``archive.chain``):
who, when, what, on which record, from where, and the outcome (including refusals). A
deleted, inserted or edited entry breaks the chain, which ``records audit verify`` reports;
it also prints the head hash, which an auditor keeps elsewhere to catch a cut-off tail.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive import chain


def log_path(home: Path) -> Path:
    return home / "audit" / "audit.jsonl"


def record(home: Path, user: str, action: str, *, record_id: str | None = None,
           outcome: str = "ok", **detail: Any) -> str:
    """Append one entry; return the log's new head hash."""
    entry = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "user": user,
             "action": action, "record_id": record_id, "outcome": outcome, **detail}
    return chain.append(log_path(home), entry)


def entries(home: Path) -> list[dict[str, Any]]:
    return chain.read(log_path(home))


def verify(home: Path, head: str | None = None) -> list[str]:
    """Problems with the log (empty: intact, and ending at ``head`` when one is given)."""
    problems, last = chain.check(log_path(home))
    if head and head != last:
        problems.append(f"the log ends at {last[:16]}..., not at the head {head[:16]}... "
                        "kept elsewhere: entries were cut off or added at the end")
    return problems
