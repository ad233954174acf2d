"""A signing token (PKCS#11: an HSM, a smart card, SoftHSM) shared by a process's threads,
and by other processes when a limit they all take from is given (``ArchiveSigner.share``).

Imported only when a token is configured: python-pkcs11 loads the token's library.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from pyhanko.sign.pkcs11 import PKCS11Signer


class SlotLimitedSigner(PKCS11Signer):
    """A token's signer that lets at most ``signing.hsm_concurrency`` signatures into the
    token at once, however many threads sign, and, once shared, no more than the shared
    limit lets in across every process that signs with it.

    Only the token's own work holds a slot: the time-stamp authority's and the OCSP
    responder's answers, which take longer than the signature, are awaited outside it, so a
    slow TSA does not hold every other signature of the batch back.
    """

    def __init__(self, *args: Any, slots: threading.BoundedSemaphore, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = slots
        # A limit other processes take from too (see ArchiveSigner.share); none by default.
        self.shared: Callable[[], AbstractAsyncContextManager[Any]] = nullcontext

    async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                             dry_run: bool = False) -> bytes:
        if dry_run:  # sizing the signature: the token is not asked
            return await super().async_sign_raw(data, digest_algorithm, dry_run=True)
        # This process's turn first, then the shared one: a thread waiting for its own
        # process's slot must not sit on a slot other processes could use.
        with self.slots:
            shared: AbstractAsyncContextManager[Any] = self.shared()
            async with shared:
                return await super().async_sign_raw(data, digest_algorithm)
