"""Signing with the key on a PKCS#11 token: a real SoftHSM2 token, PIN from the environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from archive.signing import (
    DevPki,
    Expected,
    SigningError,
    SignOptions,
    load_signer,
    sign_pdf,
    verify_bytes,
)
from config.settings import SigningSettings

PIN = "4711-records"


@pytest.fixture(scope="module")
def token(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SoftHSM2 token holding the organisation's key (SOFTHSM2_CONF set by the tests)."""
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf), "PATH": "/usr/bin:/bin"}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "records", "--pin",
                    PIN, "--so-pin", "so-secret-1"], env=env, check=True, capture_output=True)
    key = serialization.load_pem_private_key(
        pki.key("organisation").read_bytes(), pki.passphrase_file.read_bytes().strip())
    plain = folder / "key.pem"
    plain.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    subprocess.run(["softhsm2-util", "--import", str(plain), "--token", "records", "--label",
                    "seal", "--id", "01", "--pin", PIN], env=env, check=True,
                   capture_output=True)
    plain.unlink()  # the key now lives only on the token (and in the dev PKI)
    return conf


@pytest.fixture
def settings(token: Path, pki: DevPki, monkeypatch: pytest.MonkeyPatch) -> SigningSettings:
    monkeypatch.setenv("SOFTHSM2_CONF", str(token))
    monkeypatch.setenv("RECORDS_SIGNING_PIN", PIN)
    return SigningSettings(key="pkcs11", pkcs11_token="records", pkcs11_key_label="seal",
                           pkcs11_cert_file=pki.chain("organisation"),
                           trust_roots=[pki.root_cert])


# Runs first: once this process is logged in to the token, every session shares the login.
def test_wrong_pin_and_unplugged_token_are_clear(settings: SigningSettings, pki: DevPki,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDS_SIGNING_PIN", "0000")
    with pytest.raises(SigningError, match="PIN") as caught:
        load_signer(settings, pki.folder.parent)
    assert "0000" not in str(caught.value)
    monkeypatch.setenv("RECORDS_SIGNING_PIN", PIN)
    unplugged = settings.model_copy(update={"pkcs11_token": "not-plugged-in"})
    with pytest.raises(SigningError, match="plugged in"):
        load_signer(unplugged, pki.folder.parent)


def test_token_signs_a_verifiable_copy(settings: SigningSettings, pki: DevPki, pdfa: Path,
                                       tmp_path: Path) -> None:
    source = pdfa
    signer = load_signer(settings, pki.folder.parent)
    assert signer.describe()["key"] == "pkcs11"
    signature = sign_pdf(signer, SignOptions(), source, tmp_path / "signed.pdf")
    verdict = verify_bytes((tmp_path / "signed.pdf").read_bytes(), signer.trust_roots,
                           Expected(signature.pdf_sha256, signature.as_dict()))
    assert verdict.ok, verdict.failures()
    assert signature.signer["certificate_sha256"]
