"""Renewing B-LTA copies: a fresh document time-stamp before the last one ages.

A document time-stamp proves the file existed, unchanged, while the time-stamping
authority's certificate and the hash algorithm were sound. Adding a new one (with the
revocation data of the old) before either ages carries that proof forward indefinitely.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader

from archive.signing.heads import vouch_with
from archive.signing.sign import ArchiveSigner, SignOptions, public_url, renew
from archive.store import (
    EVENTS,
    RENEWALS,
    Event,
    committed_record,
    home_of,
    new_version,
    read_sidecar,
    record_lock,
    with_event,
    work_dir,
)
from config.errors import UsageError


class NotRenewable(UsageError):
    """Only B-LTA copies carry a document time-stamp that a renewal extends."""


def signature_level_of(record_dir: Path) -> str:
    """The PAdES level a record was signed at, or "unsigned"."""
    return (read_sidecar(record_dir).get("signature") or {}).get("level", "unsigned")


def last_timestamp_expiry(pdf: Path) -> datetime | None:
    """When the certificate of the newest document time-stamp expires (None: there is none)."""
    reader = PdfFileReader(io.BytesIO(pdf.read_bytes()), strict=False)
    stamps = reader.embedded_timestamp_signatures
    if not stamps:
        return None
    return stamps[-1].signer_cert["tbs_certificate"]["validity"]["not_after"].native


def is_due(record_dir: Path, within_days: int) -> bool:
    expiry = last_timestamp_expiry(committed_record(record_dir.parent, record_dir.name).pdf)
    return expiry is not None and expiry <= datetime.now(UTC) + timedelta(days=within_days)


def renew_record(archive: Path, record_id: str, signer: ArchiveSigner,
                 options: SignOptions) -> dict[str, Any]:
    """Add a document time-stamp to a B-LTA record, as a new version of its object (the
    renewed PDF, ``renewals.json`` and the ``renewed`` event); return the renewal entry."""
    # The record held still: a correction committed meanwhile would be dropped by this
    # version's rename, or its event left out of the events carried forward.
    with record_lock(archive, record_id):
        paths = committed_record(archive, record_id)
        level = signature_level_of(paths.folder)
        if level != "B-LTA":
            raise NotRenewable(f"{record_id} is {level}, not B-LTA: only B-LTA copies are "
                               "renewed")
        data = paths.pdf.read_bytes()
        renewed = renew(signer, options, data)
        entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"),
                 "tsa_url": public_url(options.tsa_url),
                 "previous_sha256": hashlib.sha256(data).hexdigest(),
                 "pdf_sha256": hashlib.sha256(renewed).hexdigest()}
        earlier = json.loads(paths.renewals.read_text(encoding="utf-8")) \
            if paths.renewals else []
        event = Event("renewed", "success", f"document time-stamp from {entry['tsa_url']}",
                      checksums_in={"pdf": entry["previous_sha256"]},
                      checksums_out={"pdf": entry["pdf_sha256"]})
        scratch_root = work_dir(home_of(archive))
        scratch_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=scratch_root) as scratch:
            events = with_event(paths, event, Path(scratch) / EVENTS)
        new_version(archive, record_id, {
            paths.pdf.name: renewed,
            RENEWALS: json.dumps([*earlier, entry], indent=2, ensure_ascii=False).encode(),
            EVENTS: events}, message="renewal: a fresh document time-stamp",
            vouch=vouch_with(signer))
    return entry
