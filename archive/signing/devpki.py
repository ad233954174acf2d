"""A development PKI for signing archival copies: never for production, and it says so.

``records keys init`` writes, under ``RECORDS_HOME/keys``, a root CA, an organisation CA with
an OCSP responder, a time-stamping authority, an **organisation** signer (the unit's seal) and
a **personal** signer, all RSA (an ECDSA key would break PDF/A-2b when pyHanko signs). The
certificates are described in a certomancer configuration (``certomancer.yml``) so that
``certomancer --config keys/certomancer.yml animate`` serves the matching TSA, OCSP and CRLs
on loopback: the same PKI signs and answers revocation queries, which is what the B-T to
B-LTA levels need to be exercised for real.

Keys are encrypted with a random passphrase kept in ``keys/passphrase`` (mode 0600); the
signing configuration reads it from there, or from an environment variable.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from certomancer.registry import CertomancerConfig
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from archive.store import write_atomic

ARCH = "records-dev"
WARNING = "DEVELOPMENT PKI - NOT FOR PRODUCTION"
DEFAULT_SERVICE_URL = "http://127.0.0.1:9780"
_KEYS = ("root", "org-ca", "ocsp", "tsa", "organisation", "personal")


@dataclass(frozen=True)
class DevPki:
    """Where ``keys init`` put things."""

    folder: Path
    service_url: str

    @property
    def passphrase_file(self) -> Path:
        return self.folder / "passphrase"

    @property
    def root_cert(self) -> Path:
        return self.folder / "root.cert.pem"

    @property
    def certomancer_config(self) -> Path:
        return self.folder / "certomancer.yml"

    def pkcs12(self, identity: str) -> Path:
        """The PKCS#12 of the ``organisation`` or the ``personal`` signer."""
        return self.folder / f"{identity}.p12"

    def chain(self, identity: str) -> Path:
        """The signer's certificate followed by its CA chain (PEM), for a PKCS#11 token."""
        return self.folder / f"{identity}.chain.pem"

    def cert(self, label: str) -> Path:
        return self.folder / f"{label}.cert.pem"

    def key(self, label: str) -> Path:
        return self.folder / f"{label}.key.pem"

    @property
    def tsa_url(self) -> str:
        return f"{self.service_url}/{ARCH}/tsa/tsa"


def dev_pki(home: Path) -> DevPki:
    folder = home / "keys"
    url = DEFAULT_SERVICE_URL
    if (folder / "certomancer.yml").is_file():
        url = yaml.safe_load((folder / "certomancer.yml").read_text())["external-url-prefix"]
    return DevPki(folder, url)


def init_dev_pki(home: Path, *, organisation: str = "Records Development Organisation",
                 person: str = "Nguyễn Văn An", service_url: str = DEFAULT_SERVICE_URL,
                 force: bool = False) -> DevPki:
    """Create the development PKI under ``home/keys``; refuse to overwrite one unless forced.

    Overwriting keys silently would orphan every signature made with them, hence ``force``.
    """
    pki = DevPki(home / "keys", service_url.rstrip("/"))
    if pki.certomancer_config.exists() and not force:
        raise FileExistsError(f"{pki.folder} already holds a PKI; pass --force to replace it")
    pki.folder.mkdir(parents=True, exist_ok=True)
    os.chmod(pki.folder, 0o700)
    passphrase = secrets.token_urlsafe(24).encode()
    write_atomic(pki.passphrase_file, passphrase)
    os.chmod(pki.passphrase_file, 0o600)
    for label in _KEYS:
        _write_key(pki.key(label), passphrase)
    config = _certomancer_config(pki, passphrase, organisation, person)
    write_atomic(pki.certomancer_config, yaml.safe_dump(config, allow_unicode=True).encode())
    arch = CertomancerConfig.from_file(str(pki.certomancer_config)).get_pki_arch(ARCH)
    for label in ("root", "org-ca", "tsa", "organisation", "personal"):
        write_atomic(pki.cert(label), _pem(arch, label))
    for identity in ("organisation", "personal"):
        # A token holds the key; the certificate and its chain come from this file.
        write_atomic(pki.chain(identity), b"".join(_pem(arch, label)
                                                   for label in (identity, "org-ca", "root")))
        data = arch.package_pkcs12(identity, certs_to_embed=["org-ca", "root"],
                                   password=passphrase)
        write_atomic(pki.pkcs12(identity), data)
        os.chmod(pki.pkcs12(identity), 0o600)
    write_atomic(pki.folder / "README.txt", _readme(pki).encode())
    return pki


def _pem(arch: object, label: str) -> bytes:
    from asn1crypto import pem

    return pem.armor("CERTIFICATE", arch.get_cert(label).dump())  # type: ignore[attr-defined]


def _write_key(path: Path, passphrase: bytes) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase))
    write_atomic(path, data)
    os.chmod(path, 0o600)


def _validity(years: int) -> dict[str, str]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    end = start + timedelta(days=365 * years)
    fmt = "%Y-%m-%dT%H:%M:%S+0000"
    return {"valid-from": start.strftime(fmt), "valid-to": end.strftime(fmt)}


def _key_usage(*usages: str) -> dict:
    return {"id": "key_usage", "critical": True,
            "smart-value": {"schema": "key-usage", "params": list(usages)}}


def _revocation_pointers(issuer: str) -> list[dict]:
    return [
        {"id": "crl_distribution_points",
         "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": [issuer]}}},
        {"id": "authority_information_access",
         "smart-value": {"schema": "aia-urls", "params": {"ocsp-responder-names": [issuer]}}},
    ]


def _certomancer_config(pki: DevPki, passphrase: bytes, organisation: str,
                        person: str) -> dict:
    ca = {"id": "basic_constraints", "critical": True, "value": {"ca": True}}
    signer = {"issuer": "org-ca", "validity": _validity(5),
              "extensions": [_key_usage("digital_signature", "non_repudiation"),
                             *_revocation_pointers("org-ca")]}
    return {
        "external-url-prefix": pki.service_url,
        "keysets": {ARCH: {
            "path-prefix": str(pki.folder),
            "keys": {label: {"path": pki.key(label).name, "password": passphrase.decode()}
                     for label in _KEYS},
        }},
        "pki-architectures": {ARCH: {
            "keyset": ARCH,
            "entity-defaults": {"country-name": "VN", "organization-name": organisation},
            "entities": {
                "root": {"common-name": f"Records development root CA ({WARNING})"},
                "org-ca": {"common-name": f"{organisation} CA ({WARNING})"},
                "ocsp": {"common-name": "OCSP responder (development)"},
                "tsa": {"common-name": "Time-stamping authority (development)"},
                "organisation": {"common-name": organisation,
                                 "organizational-unit-name": "Organisation seal"},
                "personal": {"common-name": person, "organizational-unit-name": "Personal"},
            },
            "certs": {
                "root": {"subject": "root", "issuer": "root", "authority-key": "root",
                         "validity": _validity(30),
                         "extensions": [ca, _key_usage("digital_signature", "key_cert_sign",
                                                       "crl_sign")]},
                "org-ca": {"issuer": "root", "validity": _validity(20),
                           "extensions": [ca, _key_usage("digital_signature", "key_cert_sign",
                                                         "crl_sign"),
                                          {"id": "crl_distribution_points", "smart-value": {
                                              "schema": "crl-dist-url",
                                              "params": {"crl-repo-names": ["root"]}}}]},
                "ocsp": {"issuer": "org-ca", "validity": _validity(10),
                         "extensions": [_key_usage("digital_signature"),
                                        {"id": "extended_key_usage", "critical": True,
                                         "value": ["ocsp_signing"]},
                                        {"id": "ocsp_no_check"}]},
                "tsa": {"issuer": "root", "validity": _validity(20),
                        "extensions": [_key_usage("digital_signature"),
                                       {"id": "extended_key_usage", "critical": True,
                                        "value": ["time_stamping"]},
                                       {"id": "crl_distribution_points", "smart-value": {
                                           "schema": "crl-dist-url",
                                           "params": {"crl-repo-names": ["root"]}}}]},
                "organisation": signer,
                "personal": dict(signer),
            },
            "services": {
                "ocsp": {"org-ca": {"for-issuer": "org-ca", "responder-cert": "ocsp",
                                    "signing-key": "ocsp"}},
                "crl-repo": {
                    "root": {"for-issuer": "root", "signing-key": "root",
                             "simulated-update-schedule": "P90D"},
                    "org-ca": {"for-issuer": "org-ca", "signing-key": "org-ca",
                               "simulated-update-schedule": "P30D"},
                },
                "cert-repo": {"root": {"for-issuer": "root", "publish-issued-certs": True},
                              "org-ca": {"for-issuer": "org-ca",
                                         "publish-issued-certs": True}},
                "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
            },
        }},
    }


def _readme(pki: DevPki) -> str:
    return f"""{WARNING}

These keys were made by `records keys init` for trying records out and for its tests.
Anyone with this folder can sign as the organisation. Use your organisation's real
certificate (PKCS#12 or a PKCS#11 token) in production; see README.md, "Signing".

  root.cert.pem         trust anchor to configure in signing.trust_roots
  organisation.p12      the organisation's seal (signing.identity = "organisation")
  personal.p12          a person's certificate   (signing.identity = "personal")
  *.chain.pem           certificate + CA chain, for signing.pkcs11_cert_file
  passphrase            the passphrase of every key and PKCS#12 here (mode 0600)
  certomancer.yml       serves TSA, OCSP and CRLs:
                        certomancer --config {pki.certomancer_config} animate --port PORT
                        (services expected at {pki.service_url}; TSA {pki.tsa_url})
"""
