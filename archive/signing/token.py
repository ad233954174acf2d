"""A signing token (PKCS#11: an HSM, a smart card, SoftHSM) shared by a process's threads.

Imported only when a token is configured: python-pkcs11 loads the token's library.
"""

from __future__ import annotations

import threading
from typing import Any

from pyhanko.sign.pkcs11 import PKCS11Signer


class SlotLimitedSigner(PKCS11Signer):
    """A token's signer that lets at most ``signing.hsm_concurrency`` signatures into the
    token at once, however many threads sign.

    Only the token's own work holds a slot: the time-stamp authority's and the OCSP
    responder's answers, which take longer than the signature, are awaited outside it, so a
    slow TSA does not hold every other signature of the batch back.
    """

    def __init__(self, *args: Any, slots: threading.BoundedSemaphore, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = slots

    async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                             dry_run: bool = False) -> bytes:
        if dry_run:  # sizing the signature: the token is not asked
            return await super().async_sign_raw(data, digest_algorithm, dry_run=True)
        with self.slots:
            return await super().async_sign_raw(data, digest_algorithm)
