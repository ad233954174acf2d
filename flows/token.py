"""The signing key as records loads it wherever a Prefect server may be in use: in the flows,
and in the commands and web app that sign (corrections, renewals, log heads). On a server a
signing token is shared by every worker and front end: each signature the token makes takes
a slot of one global concurrency limit, which `records deploy` sizes to
``signing.hsm_concurrency`` (``flows.deployments``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError, concurrency
from prefect.settings import PREFECT_API_URL

from archive.signing import ArchiveSigner, SigningError, load_signer, public_url
from config.settings import SigningSettings

HSM_LIMIT = "records-hsm"


def load_shared_signer(settings: SigningSettings, home: Path) -> ArchiveSigner:
    """The key, loaded once per run. On a server, a token's signatures take the server's
    slot inside the token's own signing call, so the time-stamp authority's answer, awaited
    outside it, holds no other worker back. A key file, or a run without a server (one
    process, bounded by the signer's own slots), takes none."""
    signer = load_signer(settings, home)
    if signer.token == "pkcs11" and PREFECT_API_URL.value():
        signer.share(_server_slot)
    return signer


@asynccontextmanager
async def _server_slot() -> AsyncIterator[None]:
    # strict=False: a server that `records deploy` has not readied yet has no limit; the
    # process's own slots still bound the token. A server that does not answer refuses the
    # signature (fail closed: the token may be busy for another worker), naming the server.
    try:
        async with concurrency(HSM_LIMIT, occupy=1, strict=False):
            yield
    except ConcurrencySlotAcquisitionError:
        raise SigningError(f"the Prefect server {public_url(PREFECT_API_URL.value())} gave "
                           f"no slot of the signing token's limit {HSM_LIMIT!r}: is it "
                           "running? Nothing was signed") from None
