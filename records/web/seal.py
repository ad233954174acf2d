"""The organisation's seal, for the web app's acts that make a new version of a record.

A correction is entered in the archive's log like every other version, its leaf signed with
the seal (``archive.signing.vouch_with``), and its corrected copy is certified with it
(``archive.signing.make_corrected_copy``). Opening the key takes a passphrase and, with a
token, a PKCS#11 session: done once per app, on the first correction, not at start-up (a
reader's app whose key is not yet set up still serves search and records). A key that
cannot be opened refuses the correction with 503 and the reason, nothing half made.
"""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import HTTPException

from archive.signing import Sealer, SigningError, sign_options
from config.settings import SigningSettings
from flows.token import load_shared_signer


class Seal:
    """The seal, loaded on first use and kept; a failed load is tried again next time (the
    administrator may have fixed the key meanwhile)."""

    def __init__(self) -> None:
        self._sealer: Sealer | None = None
        self._lock = threading.Lock()

    def sealer(self, settings: SigningSettings, home: Path) -> Sealer | None:
        """What vouches for a new version and certifies its corrected copy; None when
        signing is off. HTTPException 503 when the key cannot be opened."""
        if not settings.enabled:
            return None
        with self._lock:
            if self._sealer is None:
                try:
                    self._sealer = Sealer(load_shared_signer(settings, home),
                                          sign_options(settings))
                except SigningError as exc:
                    raise HTTPException(503, f"the seal cannot be used: {exc.reason}") from None
            return self._sealer
