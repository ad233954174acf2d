"""The batch ledger: what each queued batch holds and how far it got, one JSON file a batch.

Written atomically by the flow as work finishes, read by ``records status``. It records the
process that ran it, so a batch whose process died is reported as interrupted, not running.
A :class:`BatchReport` is also what a batch run returns: ``records queue`` prints it and
derives its exit code from it.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.store import now, write_json
from config.errors import ExitCode

OUTCOMES = ("archived", "quarantined", "failed")  # how a document's run can end


@dataclass
class DocumentStatus:
    source: str
    unit: str = ""  # the unit the record is digitised for (manifest, else the batch's)
    record_id: str | None = None
    status: str = "queued"  # queued, running, archived, quarantined, failed
    reason: str | None = None
    pages: int = 0
    pages_done: int = 0
    needs_review: bool = False
    # The protection the document is archived with (the stricter of the batch's and its
    # manifest row's); the top level when the manifest could not be read for it. Who may see
    # the document's name and reason in the web app is judged by it. "" in older ledgers.
    classification: str = ""

    def outcome(self) -> dict[str, Any]:
        """What ``records queue --json`` says of the document."""
        return {"source": self.source, "record_id": self.record_id, "status": self.status,
                "reason": self.reason, "pages": self.pages}


@dataclass
class BatchReport:
    batch_id: str
    paths: list[str]
    state: str = "running"  # running, finished, failed
    started: str = field(default_factory=now)
    finished: str | None = None
    host: str = field(default_factory=socket.gethostname)  # the node that ran it
    pid: int = field(default_factory=os.getpid)
    flow_run: str | None = None  # the Prefect flow run, when it ran on a server
    documents: list[DocumentStatus] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    # What it was queued with: the batch's defaults, which a manifest row may raise. Shown to
    # people following it, and reused when a fixed file is queued again.
    unit: str = ""
    series: str = ""
    classification: str = ""
    languages: str | None = None

    @property
    def pages_total(self) -> int:
        return sum(d.pages for d in self.documents)

    @property
    def pages_done(self) -> int:
        return sum(d.pages_done for d in self.documents)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for doc in self.documents:
            counts[doc.status] = counts.get(doc.status, 0) + 1
        return counts

    def eta_seconds(self) -> float | None:
        """Time left for a running batch at its rate so far; None before a page is done."""
        if self.state != "running" or not self.pages_done:
            return None
        elapsed = (datetime.now(UTC) - datetime.fromisoformat(self.started)).total_seconds()
        return elapsed / self.pages_done * (self.pages_total - self.pages_done)

    def effective_state(self, here: str | None = None) -> str:
        """'interrupted' when the process that ran a 'running' batch on this node (``here``,
        default the host name) is gone. Another node's batches are judged by their Prefect
        run instead (see ``records status``)."""
        if self.state != "running" or self.host != (here or socket.gethostname()):
            return self.state
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return "interrupted"
        except PermissionError:
            pass
        return self.state

    def exit_code(self) -> ExitCode:
        """How a command that ran the batch ends: failed beats quarantined beats all done."""
        statuses = {d.status for d in self.documents}
        if "failed" in statuses:
            return ExitCode.failure
        if "quarantined" in statuses:
            return ExitCode.quarantined
        return ExitCode.ok

    def outcome(self) -> dict[str, Any]:
        """What ``records queue --json`` prints: the batch id, each document's outcome, and
        the warnings (a hot folder or script must see what a person at a terminal sees)."""
        return {"batch_id": self.batch_id, "documents": [d.outcome() for d in self.documents],
                "warnings": list(self.warnings)}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(pages_total=self.pages_total, pages_done=self.pages_done, counts=self.counts(),
                    effective_state=self.effective_state(), eta_seconds=self.eta_seconds())
        return data


@dataclass(frozen=True)
class Ledger:
    """The ledger folder of a RECORDS_HOME: one JSON file a batch."""

    home: Path

    @property
    def folder(self) -> Path:
        return self.home / "batches"

    def save(self, report: BatchReport) -> None:
        write_json(self.folder / f"{report.batch_id}.json", asdict(report))

    def find(self, batch_id: str | None = None) -> list[BatchReport]:
        """All batches, newest first, or the one asked for (by id or unique prefix)."""
        paths = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime,
                       reverse=True) if self.folder.is_dir() else []
        if batch_id:
            paths = [p for p in paths if p.stem == batch_id] or \
                [p for p in paths if p.stem.startswith(batch_id)]
        return [load_report(p) for p in paths]

    def get(self, batch_id: str) -> BatchReport | None:
        """The batch of exactly this id (or unique prefix), if the ledger has it."""
        found = self.find(batch_id)
        return found[0] if found else None

    def in_order(self) -> list[BatchReport]:
        """Every batch, by id (which starts with the time it was queued)."""
        return [load_report(p) for p in sorted(self.folder.glob("*.json"))]


def load_report(path: Path) -> BatchReport:
    data = json.loads(path.read_text(encoding="utf-8"))
    docs = [DocumentStatus(**d) for d in data.pop("documents", [])]
    return BatchReport(**data, documents=docs)
