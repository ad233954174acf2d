"""The organisation's seal, for the web app's acts that make a new version of a record.

A correction is entered in the archive's log like every other version, its leaf signed with
the seal (``archive.signing.vouch_with``). Opening the key takes a passphrase and, with a
token, a PKCS#11 session: done once per app, on the first correction, not at start-up (a
reader's app whose key is not yet set up still serves search and records). A key that
cannot be opened refuses the correction with 503 and the reason, nothing half made.
"""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import HTTPException

from archive.signing import SigningError, load_signer, vouch_with
from archive.store import Vouch
from config.settings import SigningSettings


class Seal:
    """The seal's vouch, loaded on first use and kept; a failed load is tried again next
    time (the administrator may have fixed the key meanwhile)."""

    def __init__(self) -> None:
        self._vouch: Vouch | None = None
        self._lock = threading.Lock()

    def vouch(self, settings: SigningSettings, home: Path) -> Vouch | None:
        """What signs a new version's leaf; None when signing is off. HTTPException 503 when
        the key cannot be opened."""
        if not settings.enabled:
            return None
        with self._lock:
            if self._vouch is None:
                try:
                    self._vouch = vouch_with(load_signer(settings, home))
                except SigningError as exc:
                    raise HTTPException(503, f"the seal cannot be used: {exc.reason}") from None
            return self._vouch
