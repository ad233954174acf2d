"""Signing archival copies for real: dev PKI, pyHanko, certomancer's TSA/OCSP, pdfsig."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pikepdf
import pikepdf.pdfa
import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.sign import signers

import archive.signing.sign as signing
from archive.signing import (
    DevPki,
    Expected,
    SigningError,
    SignOptions,
    dev_pki,
    init_dev_pki,
    load_pkcs12,
    load_signer,
    sign_pdf,
    verify_bytes,
    verify_file,
)
from config.settings import SigningSettings
from tests.conftest import INFO


def _signer(pki: DevPki, identity: str = "organisation") -> signing.ArchiveSigner:
    secret = pki.passphrase_file.read_bytes()
    roots = signing.trust_roots(SigningSettings(), pki.folder.parent)
    return load_pkcs12(pki.pkcs12(identity), secret, identity, roots)  # type: ignore[arg-type]


def _verify(path: Path, signer: signing.ArchiveSigner, sig: signing.Signature) -> dict:
    verdict = verify_bytes(path.read_bytes(), signer.trust_roots,
                           Expected(sig.pdf_sha256, sig.as_dict(), INFO))
    assert verdict.ok, verdict.failures()
    return verdict.as_dict()["checks"]


def test_b_b_certification_keeps_pdfa_and_pdfsig_agrees(pdfa: Path, pki: DevPki,
                                                          tmp_path: Path) -> None:
    signer = _signer(pki)
    out = tmp_path / "signed.pdf"
    sig = sign_pdf(signer, SignOptions(), pdfa, out)
    data = out.read_bytes()
    assert data[: sig.unsigned_size] == pdfa.read_bytes()  # incremental: the PDF/A is kept
    assert pikepdf.pdfa.validate_written(pdfa, "2b").passed
    with pikepdf.open(out) as pdf:
        assert pdf.pdf_version <= "1.7"  # RSA keeps the version PDF/A-2b needs
        assert pdf.open_metadata().pdfa_status == "2B"
    checks = _verify(out, signer, sig)
    assert checks["certification"]["detail"] == "certification signature, DocMDP P=1"
    assert sig.signer["identity"] == "organisation" and sig.level == "B-B"
    report = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True).stdout
    assert "Signature Validation: Signature is Valid." in report
    assert "Total document signed" in report


def test_docmdp_2_and_personal_identity(pdfa: Path, pki: DevPki, tmp_path: Path) -> None:
    signer = _signer(pki, "personal")
    out = tmp_path / "signed.pdf"
    sig = sign_pdf(signer, SignOptions(docmdp=2), pdfa, out)
    checks = _verify(out, signer, sig)
    assert checks["certification"]["detail"].endswith("P=2")
    assert sig.signer["identity"] == "personal" and "Nguyễn Văn An" in sig.signer["subject"]


class _CountingKey:
    """The loaded RSA key, counting the private-key operations made with it."""

    def __init__(self, key: Any) -> None:
        self.key, self.signs = key, 0
        self.key_size = key.key_size

    def sign(self, *args: Any) -> bytes:
        self.signs += 1
        return self.key.sign(*args)


def test_key_is_parsed_once_not_per_signature(pdfa: Path, pki: DevPki, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Three documents: three private-key operations (none for pyHanko's sizing dry run) and
    no parsing of the key; pyHanko's own SimpleSigner, given the same key, parses it again
    for every signature, which is what this test would catch."""
    signer = _signer(pki)
    parses: list[int] = []
    real_load = serialization.load_der_private_key

    def counting_load(*args: Any, **kwargs: Any) -> Any:
        parses.append(1)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(serialization, "load_der_private_key", counting_load)
    key = _CountingKey(signer.signer._key)  # type: ignore[attr-defined]
    signer.signer._key = key  # type: ignore[attr-defined]
    for n in range(3):
        sign_pdf(signer, SignOptions(), pdfa, tmp_path / f"{n}.pdf")
    assert (key.signs, len(parses)) == (3, 0)
    _verify(tmp_path / "2.pdf", signer, sign_pdf(signer, SignOptions(), pdfa,
                                                 tmp_path / "2.pdf"))
    stock = replace(signer, signer=signers.SimpleSigner(
        signing_cert=signer.signer.signing_cert, signing_key=signer.signer.signing_key,
        cert_registry=signer.signer.cert_registry))
    sign_pdf(stock, SignOptions(), pdfa, tmp_path / "stock.pdf")
    assert len(parses) >= 1  # the stock signer parses the key: the count above means it


def test_ecdsa_key_is_refused_with_the_reason(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "ecdsa signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (cx509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    p12 = tmp_path / "ec.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"ec", key, cert, None, serialization.BestAvailableEncryption(b"pw")))
    with pytest.raises(SigningError, match=r"not RSA.*PDF/A-2b"):
        load_pkcs12(p12, b"pw", "organisation", [])


def test_wrong_passphrase_says_so_without_the_secret(pki: DevPki, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDS_SIGNING_PASSPHRASE", "not-the-Passphrase-42")
    with pytest.raises(SigningError) as caught:
        load_signer(SigningSettings(), pki.folder.parent)
    assert "wrong passphrase" in str(caught.value)
    assert "not-the-Passphrase-42" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_missing_key_points_to_keys_init(pki: DevPki, tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="records keys init"):
        load_signer(SigningSettings(trust_roots=[pki.root_cert]), tmp_path)


def test_keys_init_refuses_to_overwrite(pki: DevPki, tmp_path: Path) -> None:
    made = init_dev_pki(tmp_path)
    assert dev_pki(tmp_path) == made and "NOT FOR PRODUCTION" in (
        made.folder / "README.txt").read_text()
    with pytest.raises(FileExistsError):
        init_dev_pki(tmp_path)


@pytest.mark.parametrize("level", ["B-T", "B-LT", "B-LTA"])
def test_timestamped_levels_against_a_real_tsa_and_ocsp(
        level: str, pdfa: Path, animator: DevPki, tmp_path: Path) -> None:
    signer = _signer(animator)
    out = tmp_path / "signed.pdf"
    sig = sign_pdf(signer, SignOptions(level=level, tsa_url=animator.tsa_url), pdfa, out)  # type: ignore[arg-type]
    checks = _verify(out, signer, sig)
    with pikepdf.open(out) as pdf:
        dss = pdf.Root.get("/DSS")
        assert (dss is not None) == (level in ("B-LT", "B-LTA"))
        if level != "B-T":
            assert len(dss.get("/OCSPs", [])) + len(dss.get("/CRLs", [])) > 0
    if level == "B-LTA":
        assert checks["ades"]["detail"] == "AdES LTA verdict AdESPassed.OK"
    loose = verify_file(out, signer.trust_roots)  # no record: the level is read off the file
    assert loose.ok, loose.failures()
    assert level in loose.checks["ades"].detail or "PASSED" in loose.checks["ades"].detail.upper()
    report = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True).stdout
    assert "Signature #1:\n" in report and "Signature is Valid." in report


def test_renewal_adds_a_timestamp_and_keeps_the_signed_revision(
        pdfa: Path, animator: DevPki, tmp_path: Path) -> None:
    signer = _signer(animator)
    options = SignOptions(level="B-LTA", tsa_url=animator.tsa_url)
    out = tmp_path / "signed.pdf"
    sig = sign_pdf(signer, options, pdfa, out)
    renewed = signing.renew(signer, options, out.read_bytes())
    assert renewed.startswith(out.read_bytes())
    assert signing.signed_revision_sha256(renewed) == sig.signed_revision_sha256
    expected = Expected(hashlib.sha256(renewed).hexdigest(), sig.as_dict(), INFO)
    verdict = verify_bytes(renewed, signer.trust_roots, expected)
    assert verdict.ok, verdict.failures()


def test_tsa_down_is_a_clear_error(pdfa: Path, pki: DevPki, tmp_path: Path) -> None:
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/tsa"
    with pytest.raises(SigningError, match=r"time-stamp authority .* did not answer"):
        sign_pdf(_signer(pki), SignOptions(level="B-T", tsa_url=url), pdfa, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_level_needs_a_tsa() -> None:
    assert signing.level_for(SigningSettings()) == "B-B"
    assert signing.level_for(SigningSettings(tsa_url="http://tsa")) == "B-LTA"
    with pytest.raises(SigningError, match="needs a time-stamp authority"):
        signing.level_for(SigningSettings(level="B-T"))


def _dead_tsa() -> str:
    from tests.conftest import free_port

    return f"http://127.0.0.1:{free_port()}/tsa"


def test_tsa_down_policy_fail_gives_up_at_once(pdfa: Path, pki: DevPki, tmp_path: Path) -> None:
    pauses: list[float] = []
    options = SignOptions(level="B-T", tsa_url=_dead_tsa(), tsa_down="fail")
    with pytest.raises(signing.TsaUnavailable, match="did not answer"):
        signing.sign_archival(_signer(pki), options, pdfa, tmp_path / "x.pdf", pauses.append)
    assert pauses == [] and not (tmp_path / "x.pdf").exists()


def test_tsa_down_policy_wait_retries_then_fails_the_rest_at_once(
        pdfa: Path, pki: DevPki, tmp_path: Path) -> None:
    pauses: list[float] = []
    signer = _signer(pki)
    options = SignOptions(level="B-LTA", tsa_url=_dead_tsa(), tsa_down="wait",
                          tsa_wait_seconds=40)
    with pytest.raises(signing.TsaUnavailable, match=r"waited 35 s for it"):
        signing.sign_archival(signer, options, pdfa, tmp_path / "x.pdf", pauses.append)
    assert pauses == [5.0, 10.0, 20.0] and signer.tsa_gave_up
    with pytest.raises(signing.TsaUnavailable):  # the next document does not wait again
        signing.sign_archival(signer, options, pdfa, tmp_path / "y.pdf", pauses.append)
    assert pauses == [5.0, 10.0, 20.0]


def test_tsa_down_policy_sign_without_says_so(pdfa: Path, animator: DevPki,
                                              tmp_path: Path) -> None:
    signer = _signer(animator)
    options = SignOptions(level="B-LTA", tsa_url=_dead_tsa(), tsa_down="sign-without")
    out = tmp_path / "signed.pdf"
    sig = signing.sign_archival(signer, options, pdfa, out, lambda _: pytest.fail("waited"))
    assert sig.level == "B-B"
    assert "did not answer" in sig.tsa_fallback and "sign-without" in sig.tsa_fallback
    checks = _verify(out, signer, sig)
    assert checks["certification"]["detail"] == "certification signature, DocMDP P=1"
    back = signing.sign_archival(signer, SignOptions(level="B-LTA", tsa_url=animator.tsa_url,
                                                     tsa_down="sign-without"),
                                 pdfa, tmp_path / "again.pdf")
    assert back.level == "B-LTA" and back.tsa_fallback == ""


def test_tsa_credentials_never_reach_messages_or_records(pdfa: Path, pki: DevPki,
                                                          tmp_path: Path) -> None:
    from tests.conftest import free_port

    url = f"http://seal:Tsa-Secret-9@127.0.0.1:{free_port()}/tsa"
    assert signing.public_url(url) == url.replace("seal:Tsa-Secret-9@", "")
    options = SignOptions(level="B-T", tsa_url=url, tsa_down="sign-without")
    sig = signing.sign_archival(_signer(pki), options, pdfa, tmp_path / "x.pdf")
    assert "Tsa-Secret-9" not in json.dumps(sig.as_dict())
    with pytest.raises(signing.TsaUnavailable) as down:
        signing.sign_archival(_signer(pki), SignOptions(level="B-T", tsa_url=url,
                                                        tsa_down="fail"),
                              pdfa, tmp_path / "y.pdf")
    assert "Tsa-Secret-9" not in str(down.value) and "127.0.0.1" in str(down.value)


def test_certificates_are_parsed_whole_before_threads_share_them(pki: DevPki) -> None:
    """asn1crypto fills a name's parsed form as it reads it: a thread reading it while another
    builds it finds it half made (KeyError 'organization_name' in pyHanko, two documents of a
    batch signing at once, seen under load). A loaded signer's certificates are parsed whole
    before any thread shares them, so nothing is built lazily later."""
    signer = _signer(pki)
    for cert in (signer.certificate, *signer.chain, *signer.trust_roots):
        assert cert._native is not None
        for name in (cert.subject, cert.issuer):
            assert name._native is not None and name._human_friendly is not None
            assert dict(name._native) == dict(type(name).load(name.dump(force=True)).native)
    assert signer.signer.subject_name  # what raised half made
