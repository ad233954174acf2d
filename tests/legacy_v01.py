"""How records 0.1 wrote its archive, kept verbatim (store_record, the manifest, the
later-events log) so that migration is tested on an archive as that version wrote it."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

from archive.store import Event, copy_tree_verified, make_read_only, sha256_file, write_json


def store_record(archive: Path, *, record_id: str, content_sha: str, source: Path, pdf: Path,
                 page_dirs: list[Path], sidecar: dict) -> Path:
    """records 0.1's commit: a plain folder with manifest-sha256.txt, read-only."""
    prefix, number = record_id.rsplit("-", 1)
    write_json(archive / ".ids" / prefix, int(number))
    (archive / ".by-hash").mkdir(parents=True, exist_ok=True)
    (archive / ".by-hash" / content_sha).write_text(record_id, encoding="utf-8")
    final = archive / record_id
    stage = archive / ".staging" / f"{record_id}.{uuid.uuid4().hex}"
    stage.mkdir(parents=True)
    shutil.copyfile(pdf, stage / f"{record_id}.pdf")
    originals = copy_tree_verified(source, stage / "originals")
    for number_, page_dir in enumerate(page_dirs, start=1):
        for name, suffix in (("page.txt", "txt"), ("page.xml", "alto.xml"),
                             ("page.hocr", "hocr")):
            if (page_dir / name).is_file():
                target = stage / "pages" / f"{number_:04d}.{suffix}"
                target.parent.mkdir(exist_ok=True)
                shutil.copyfile(page_dir / name, target)
    write_json(stage / "record.json", {**sidecar, "record_id": record_id, "originals": originals})
    lines = [f"{sha256_file(p)}  {p.relative_to(stage).as_posix()}"
             for p in sorted(stage.rglob("*")) if p.is_file()]
    (stage / "manifest-sha256.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    make_read_only(stage)
    stage.rename(final)
    return final


def append_event(archive: Path, record_id: str, event: Event) -> None:
    """records 0.1's later-events log: archive/.events/<id>.jsonl, hash-chained."""
    path = archive / ".events" / f"{record_id}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_bytes().splitlines() if path.is_file() else []
    previous = hashlib.sha256(lines[-1]).hexdigest() if lines else "0" * 64
    line = json.dumps({**asdict(event), "previous": previous}, ensure_ascii=False,
                      sort_keys=True).encode()
    with path.open("ab") as handle:
        handle.write(line + b"\n")
