"""Signing archival copies: one invisible PAdES certification signature per record.

The key is loaded once per run (:func:`load_signer`) and reused for every document: pyHanko's
stock signer re-parses an RSA key for each signature, which costs more than the signature.
Keys are RSA only: an ECDSA signature makes pyHanko raise the PDF version to 2.0, and the copy
stops being PDF/A-2b. Levels follow the configuration: B-B without a time-stamp authority;
B-T, B-LT (revocation data in the DSS) and B-LTA (a document time-stamp over it all) with one.

Secrets (passphrase, PIN) are read from an environment variable or a file at load time, are
never stored on the signer, and never appear in an error message.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from asn1crypto import x509
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from pyhanko.keys import load_certs_from_pemder
from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from archive.signing.devpki import dev_pki
from config.errors import ExitCode, RecordsError
from config.settings import SigningSettings

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
LEVELS: tuple[Level, ...] = ("B-B", "B-T", "B-LT", "B-LTA")
FIELD_NAME = "ArchivalCopy"


class SigningError(RecordsError):
    """The copy could not be signed; the message names why and never carries a secret."""


class SigningSetupError(SigningError):
    """Signing cannot start: no usable key, secret, token or trust roots (exit 2, fix the
    settings). Raised before any document is touched."""

    exit_code = ExitCode.usage


class TsaUnavailable(SigningError):
    """The time-stamp authority did not answer: the one signing fault worth waiting out."""


@dataclass(frozen=True)
class SignOptions:
    """What a signature says and how strong it is."""

    level: Level = "B-B"
    docmdp: int = 1
    tsa_url: str = ""
    reason: str = "Archival copy"
    location: str = ""
    fetch_revocation: bool = True
    tsa_down: Literal["wait", "fail", "sign-without"] = "wait"
    tsa_wait_seconds: float = 300.0


@dataclass
class ArchiveSigner:
    """A loaded key and its certificate chain, ready to sign many documents."""

    signer: signers.Signer
    identity: Literal["organisation", "personal"]
    trust_roots: list[x509.Certificate]
    chain: list[x509.Certificate]
    token: str = "pkcs12"
    # Set once a document has waited the whole tsa_wait_seconds in vain: the rest of the batch
    # then fails at once instead of each waiting as long (cleared when the TSA answers again).
    tsa_gave_up: bool = False

    def __post_init__(self) -> None:
        # asn1crypto parses a certificate lazily and caches each part as it builds it: a
        # thread reading a name another thread is still building finds it half made
        # (pyHanko's subject_name raised KeyError 'organization_name' when two documents of
        # a batch signed at once). Parsed whole here, before any thread shares them.
        for cert in (self.certificate, *self.chain, *self.trust_roots):
            _ = cert.native, cert.subject.human_friendly, cert.issuer.human_friendly

    @property
    def certificate(self) -> x509.Certificate:
        return self.signer.signing_cert

    def describe(self) -> dict[str, str]:
        """The signer as the record states it: enough to find the certificate again."""
        cert = self.certificate
        return {
            "identity": self.identity,
            "subject": cert.subject.human_friendly,
            "issuer": cert.issuer.human_friendly,
            "serial": format(cert.serial_number, "x"),
            "certificate_sha256": hashlib.sha256(cert.dump()).hexdigest(),
            "key": self.token,
        }

    def share(self, slot: Callable[[], AbstractAsyncContextManager[Any]]) -> None:
        """Share the token with other processes: each signature it makes also takes a place
        of ``slot``, a limit they all take from (a Prefect server's global concurrency
        limit, given by the flows). Held for the token's own work only, as this process's
        ``signing.hsm_concurrency`` slot is. A key file belongs to this process alone."""
        if self.token == "pkcs11":
            self.signer.shared = slot  # type: ignore[attr-defined]  (a SlotLimitedSigner)


@dataclass(frozen=True)
class Signature:
    """What signing produced, for the sidecar and for verification later."""

    level: Level
    signed_at: str
    signer: dict[str, str]
    unsigned_sha256: str
    unsigned_size: int
    signed_revision_sha256: str
    pdf_sha256: str
    docmdp: int
    tsa_url: str = ""
    tsa_fallback: str = ""  # why a copy meant to be time-stamped was signed B-B instead

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class _LoadedKeySigner(signers.SimpleSigner):
    """SimpleSigner that keeps the parsed RSA key instead of re-parsing it per signature."""

    def __init__(self, key: RSAPrivateKey, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._key = key

    async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                             dry_run: bool = False) -> bytes:
        # pyHanko signs once "dry" to size the signature slot; an RSA signature is always
        # as long as the modulus, so the dry run needs no private-key operation.
        if dry_run:
            return bytes(self._key.key_size // 8)
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        if mechanism.signature_algo != "rsassa_pkcs1v15":
            return super().sign_raw(data, digest_algorithm)
        return self._key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))


def public_url(url: str) -> str:
    """The URL without a user name or password in it: a TSA may take basic-auth credentials in
    its URL, and the URL is written into records and error messages."""
    parts = urlsplit(url)
    if not parts.username and not parts.password:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def level_for(settings: SigningSettings) -> Level:
    """The configured level; "auto" is B-LTA with a time-stamp authority, B-B without."""
    if settings.level == "auto":
        return "B-LTA" if settings.tsa_url else "B-B"
    if settings.level != "B-B" and not settings.tsa_url:
        raise SigningSetupError(f"signing level {settings.level} needs a time-stamp authority: "
                                "set signing.tsa_url")
    return settings.level


def sign_options(settings: SigningSettings) -> SignOptions:
    return SignOptions(level=level_for(settings), docmdp=settings.docmdp,
                       tsa_url=settings.tsa_url, reason=settings.reason,
                       location=settings.location, fetch_revocation=settings.fetch_revocation,
                       tsa_down=settings.tsa_down, tsa_wait_seconds=settings.tsa_wait_seconds)


def read_secret(env: str, file: Path | None, what: str) -> bytes:
    """A passphrase or PIN from the environment variable, else the file; never echoed."""
    value = os.environ.get(env)
    if value:
        return value.encode()
    if file and file.is_file():
        return file.read_bytes().strip()
    raise SigningSetupError(f"no {what}: set the environment variable {env} or name a file "
                            f"in the signing settings")


def trust_roots(settings: SigningSettings, home: Path) -> list[x509.Certificate]:
    """The configured trust anchors, or the development root when none is configured."""
    files = list(settings.trust_roots) or [dev_pki(home).root_cert]
    if not settings.trust_roots and not files[0].is_file():
        raise SigningSetupError("no trust roots: set signing.trust_roots to your organisation's "
                                "root certificate, or run `records keys init` for a "
                                "development PKI")
    roots = []
    for path in files:
        if not path.is_file():
            raise SigningSetupError(f"trust root {path} does not exist")
        roots += list(load_certs_from_pemder([str(path)]))
    return roots


def seal_certificates(settings: SigningSettings, home: Path) -> list[x509.Certificate]:
    """The certificates allowed to seal the archive's log. Any other certificate, even one
    under the same root (a person's, the time-stamping authority's), is refused: the log is
    the organisation's word."""
    files = list(settings.seal_certificates)
    if not files and settings.key == "pkcs11" and settings.pkcs11_cert_file:
        files = [settings.pkcs11_cert_file]
    elif not files and settings.key == "pkcs12" and settings.pkcs12_file is None:
        files = [dev_pki(home).cert(settings.identity)]
    seals = []
    for path in files:
        if not path.is_file():
            raise SigningSetupError(f"no seal certificate at {path}: set "
                                    "signing.seal_certificates to the certificate that signs "
                                    "the archive's log")
        seals += list(load_certs_from_pemder([str(path)]))[:1]  # the signer, not its chain
    if not seals:
        raise SigningSetupError("no seal certificate: set signing.seal_certificates to the "
                                "certificate that signs the archive's log")
    return seals


def load_signer(settings: SigningSettings, home: Path) -> ArchiveSigner:
    """Load the configured key once; raise SigningError with an actionable message."""
    if settings.key == "pkcs11":
        return _load_pkcs11(settings, trust_roots(settings, home))
    pki = dev_pki(home)
    path = settings.pkcs12_file or pki.pkcs12(settings.identity)
    if not path.is_file():
        raise SigningSetupError(f"no signing key at {path}: configure signing.pkcs12_file, or run "
                                "`records keys init` for a development PKI (not for production)")
    roots = trust_roots(settings, home)
    secret = read_secret(settings.passphrase_env, settings.passphrase_file or
                         pki.passphrase_file, "key passphrase")
    return load_pkcs12(path, secret, settings.identity, roots)


def load_pkcs12(path: Path, passphrase: bytes, identity: Literal["organisation", "personal"],
                roots: list[x509.Certificate]) -> ArchiveSigner:
    try:
        key, cert, others = pkcs12.load_key_and_certificates(path.read_bytes(), passphrase)
    except (ValueError, TypeError):
        # cryptography's message may quote parts of the input: say only what is wrong.
        raise SigningSetupError(f"cannot open {path.name}: wrong passphrase or not a PKCS#12 "
                                "file") from None
    _require_rsa(key)
    assert isinstance(key, RSAPrivateKey) and cert is not None
    chain = [x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in others or []]
    signing_cert = x509.Certificate.load(cert.public_bytes(Encoding.DER))
    signer = _LoadedKeySigner(
        key, signing_cert=signing_cert,
        signing_key=translate_pyca_cryptography_key_to_asn1(key),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    return ArchiveSigner(signer, identity, roots, chain)


def _require_rsa(key: object) -> None:
    if not isinstance(key, RSAPrivateKey):
        kind = type(key).__name__.lstrip("_").replace("PrivateKey", "") or "this"
        raise SigningSetupError(f"the signing key is {kind}, not RSA: an ECDSA or other non-RSA "
                                "signature makes the copy PDF 2.0, which is no longer PDF/A-2b; "
                                "use an RSA key")


def _load_pkcs11(settings: SigningSettings, roots: list[x509.Certificate]) -> ArchiveSigner:
    from pkcs11 import KeyType, ObjectClass
    from pkcs11.exceptions import PinIncorrect, PKCS11Error, UserAlreadyLoggedIn
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign import pkcs11 as p11
    from pyhanko.sign.general import SigningError as PyHankoSigningError

    from archive.signing.token import SlotLimitedSigner

    pin = read_secret(settings.pin_env, settings.pin_file, "token PIN").decode()
    if not settings.pkcs11_cert_file or not settings.pkcs11_cert_file.is_file():
        raise SigningSetupError("signing.pkcs11_cert_file must name the signer's certificate")
    criteria = TokenCriteria(settings.pkcs11_token)
    try:
        try:
            session = p11.open_pkcs11_session(str(settings.pkcs11_module),
                                              token_criteria=criteria, user_pin=pin)
        except UserAlreadyLoggedIn:  # this process signed in before: the login is shared
            session = p11.open_pkcs11_session(str(settings.pkcs11_module),
                                              token_criteria=criteria)
        key = session.get_key(ObjectClass.PRIVATE_KEY, label=settings.pkcs11_key_label)
    except PinIncorrect:
        raise SigningSetupError(f"token {settings.pkcs11_token!r} refused the PIN") from None
    except (PKCS11Error, OSError, PyHankoSigningError) as exc:
        raise SigningSetupError(f"cannot use token {settings.pkcs11_token!r} "
                                f"({type(exc).__name__}): is it plugged in, with a key labelled "
                                f"{settings.pkcs11_key_label!r}?") from None
    if key.key_type != KeyType.RSA:
        raise SigningSetupError("the token's signing key is not RSA: an ECDSA signature makes "
                                "the copy PDF 2.0, which is no longer PDF/A-2b; use an RSA key")
    certs = list(load_certs_from_pemder([str(settings.pkcs11_cert_file)]))
    signer = SlotLimitedSigner(session, key_label=settings.pkcs11_key_label,
                               signing_cert=certs[0], ca_chain=certs[1:],
                               slots=threading.BoundedSemaphore(settings.hsm_concurrency))
    return ArchiveSigner(signer, settings.identity, roots, certs[1:], token="pkcs11")


def validation_context(signer: ArchiveSigner, *, fetch: bool) -> ValidationContext:
    return ValidationContext(trust_roots=signer.trust_roots, other_certs=signer.chain,
                             allow_fetching=fetch)


def sign_pdf(signer: ArchiveSigner, options: SignOptions, src: Path, dest: Path) -> Signature:
    """Certify ``src`` (a validated PDF/A) into ``dest`` by an incremental update.

    The unsigned file stays, byte for byte, the prefix of the signed one: that is what lets
    a verifier re-check it as PDF/A long after.
    """
    unsigned = src.read_bytes()
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, certify=True, md_algorithm="sha256",
        docmdp_permissions=fields.MDPPerm(options.docmdp),
        subfilter=fields.SigSeedSubFilter.PADES, reason=options.reason,
        location=options.location or None,
        embed_validation_info=options.level in ("B-LT", "B-LTA"),
        use_pades_lta=options.level == "B-LTA",
        validation_context=(validation_context(signer, fetch=options.fetch_revocation)
                            if options.level in ("B-LT", "B-LTA") else None),
    )
    stamper = timestamps.HTTPTimeStamper(options.tsa_url) if options.level != "B-B" else None
    out = io.BytesIO()
    with _signing_errors(options):
        writer = IncrementalPdfFileWriter(io.BytesIO(unsigned), strict=False)
        signers.PdfSigner(meta, signer.signer, timestamper=stamper).sign_pdf(writer, output=out)
    data = out.getvalue()
    dest.write_bytes(data)
    return Signature(
        level=options.level, signed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        signer=signer.describe(), unsigned_sha256=hashlib.sha256(unsigned).hexdigest(),
        unsigned_size=len(unsigned),
        signed_revision_sha256=hashlib.sha256(data[: _signed_end(data, len(unsigned))]).hexdigest(),
        pdf_sha256=hashlib.sha256(data).hexdigest(), docmdp=options.docmdp,
        tsa_url=public_url(options.tsa_url),
    )


def sign_archival(signer: ArchiveSigner, options: SignOptions, src: Path, dest: Path,
                  sleep: Callable[[float], None] = time.sleep) -> Signature:
    """Sign at the configured level, doing what ``signing.tsa_down`` says when the TSA is down.

    "wait" retries with growing pauses for ``tsa_wait_seconds`` (an outage of minutes should
    not cost a batch), "fail" gives up at once, "sign-without" signs B-B and says so in the
    signature, so the copy is certified now and its time-stamp can be added later.
    """
    waited, pause = 0.0, 5.0
    budget = options.tsa_wait_seconds if options.tsa_down == "wait" and not signer.tsa_gave_up \
        else 0.0
    while True:
        try:
            signature = sign_pdf(signer, options, src, dest)
        except TsaUnavailable as exc:
            if options.tsa_down == "sign-without":
                plain = sign_pdf(signer, replace(options, level="B-B"), src, dest)
                return replace(plain, tsa_fallback=f"{exc} (signing.tsa_down = sign-without)")
            if waited + pause > budget:
                if options.tsa_down == "wait":
                    signer.tsa_gave_up = True
                    raise TsaUnavailable(f"{exc}; waited {waited:.0f} s for it "
                                         "(signing.tsa_wait_seconds)") from None
                raise
            sleep(pause)
            waited, pause = waited + pause, min(pause * 2, 60.0)
        else:
            signer.tsa_gave_up = False
            return signature


@contextmanager
def _signing_errors(options: SignOptions) -> Iterator[None]:
    """pyHanko's errors, reworded for a records officer (the TSA is the usual suspect)."""
    try:
        yield
    except SigningError:
        raise
    except timestamps.TimestampRequestError as exc:
        raise TsaUnavailable(f"the time-stamp authority {public_url(options.tsa_url)} did not "
                             f"answer ({exc}); the copy is not signed") from None
    except Exception as exc:
        raise SigningError(f"signing failed: {type(exc).__name__}: {exc}") from None


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _signed_end(data: bytes, unsigned_size: int) -> int:
    """End of the signed revision: the first signature appended after the unsigned file.

    Read straight off the bytes (re-parsing the whole file cost a fifth of a signature);
    verification re-derives it through pyHanko and compares.
    """
    found = _BYTE_RANGE.search(data, unsigned_size)
    if not found:
        raise SigningError("signing produced no signature dictionary")
    _, _, start, length = (int(g) for g in found.groups())
    return start + length


def signed_revision_sha256(data: bytes) -> str:
    """SHA-256 of the bytes the certification covers: stable across time-stamp renewals."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    sig = next(s for s in reader.embedded_regular_signatures if s.field_name == FIELD_NAME)
    start, length = sig.byte_range[2], sig.byte_range[3]
    return hashlib.sha256(data[: start + length]).hexdigest()


def renew(signer: ArchiveSigner, options: SignOptions, data: bytes) -> bytes:
    """A fresh document time-stamp over a B-LTA copy, with the DSS brought up to date.

    Done before the last time-stamp's certificate or hash algorithm ages, it carries the
    proof forward; the bytes signed before stay untouched (an incremental update).
    """
    if not options.tsa_url:
        raise SigningSetupError("renewing needs a time-stamp authority: set signing.tsa_url")
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    out = io.BytesIO()
    stamper = signers.PdfTimeStamper(timestamps.HTTPTimeStamper(options.tsa_url))
    with _signing_errors(options):
        stamper.update_archival_timestamp_chain(
            reader, validation_context(signer, fetch=options.fetch_revocation),
            in_place=False, output=out)
    return out.getvalue()
