"""The signing key as the flows load it. On a Prefect server a signing token is shared by
every worker: each signature the token makes takes a slot of one global concurrency limit,
which `records deploy` sizes to ``signing.hsm_concurrency`` (``flows.deployments``)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

from prefect.concurrency.asyncio import concurrency
from prefect.settings import PREFECT_API_URL

from archive.signing import ArchiveSigner, load_signer
from config.settings import SigningSettings

HSM_LIMIT = "records-hsm"


def load_flow_signer(settings: SigningSettings, home: Path) -> ArchiveSigner:
    """The key, loaded once per flow run. The slot is taken inside the token's own signing
    call, so the time-stamp authority's answer, awaited outside it, holds no other
    worker back. A key file, or an embedded run (one process, bounded by the signer's own
    slots), takes none."""
    signer = load_signer(settings, home)
    if signer.token == "pkcs11" and PREFECT_API_URL.value():
        signer.share(_server_slot)
    return signer


def _server_slot() -> AbstractAsyncContextManager[None]:
    # strict=False: a server that `records deploy` has not readied yet has no limit; the
    # process's own slots still bound the token.
    return concurrency(HSM_LIMIT, occupy=1, strict=False)
