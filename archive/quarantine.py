"""Setting bad documents aside with their reason, without touching the originals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from archive.files import copy_tree_verified, write_json


def quarantine(home: Path, batch_id: str, source: Path, reason: str) -> Path:
    """Copy *source* into ``quarantine/<batch>/`` beside a ``.reason.json``; return the folder.

    The batch folder is the officer's: it is copied, never moved or changed, so the original
    stays where it was and the quarantine holds a checked copy of what was refused.
    """
    folder = home / "quarantine" / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    sums: dict[str, str] = {}
    if source.exists() and not source.is_symlink():
        sums = copy_tree_verified(source, folder)
    write_json(folder / f"{source.name}.reason.json", {
        "source": str(source),
        "reason": reason,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "checksums": sums,
    })
    return folder
