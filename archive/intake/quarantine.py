"""Setting bad documents aside with their reason, without touching the originals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from archive.store import copy_tree_verified, write_json
from ocr.inputs import printable_name


def quarantine_document(home: Path, batch_id: str, source: Path, reason: str) -> Path:
    """Copy *source* into ``quarantine/<batch>/`` beside a ``.reason.json``; return the folder.

    The batch folder is the officer's: it is copied, never moved or changed, so the original
    stays where it was and the quarantine holds a checked copy of what was refused.
    """
    folder = home / "quarantine" / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    sums: dict[str, str] = {}
    if source.exists() and not source.is_symlink() and (source.is_file() or source.is_dir()):
        sums = {printable_name(name): sha for name, sha in
                copy_tree_verified(source, folder).items()}
    write_json(folder / f"{printable_name(source.name)}.reason.json", {
        "source": printable_name(str(source)),
        "reason": reason,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "checksums": sums,
    })
    return folder
