"""The independent verifier (tools/verify_copy.py), run by the system's own Python with none
of records installed, accepts an exported record and rejects every forged one."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from archive.signing import (
    DevPki,
    NotExported,
    SignOptions,
    export_record,
    init_dev_pki,
    load_pkcs12,
    sign_bytes,
    trust_roots,
)
from config.settings import SigningSettings
from tests.archive.signing.test_tamper import IDS, flip, pristine, trust  # noqa: F401

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_copy.py"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def verify(bag: Path, trust: Path, seal: Path | None = None
           ) -> subprocess.CompletedProcess[str]:
    """The tool, run by the system's Python in isolated mode (no site-packages, no records),
    given the organisation's root and seal."""
    if not SYSTEM_PYTHON.is_file():
        pytest.fail("/usr/bin/python3 is missing: the verifier is meant for a plain Python")
    seal = seal or trust.with_name("organisation.cert.pem")
    return subprocess.run([str(SYSTEM_PYTHON), "-I", str(TOOL), str(bag), "--trust",
                           str(trust), "--seal", str(seal)],
                          capture_output=True, text=True, timeout=120)


def rebag(bag: Path) -> None:
    """What a forger does next: make the bag's own manifests agree with the forged files."""
    for manifest in bag.glob("manifest-*.txt"):
        algorithm = manifest.stem.split("-", 1)[1]
        lines = []
        for line in manifest.read_text().splitlines():
            _, name = line.split(maxsplit=1)
            lines.append(f"{hashlib.new(algorithm, (bag / name).read_bytes()).hexdigest()}  "
                         f"{name}")
        manifest.write_text("\n".join(lines) + "\n")


@pytest.fixture
def exported(pristine: Path, pki: DevPki, tmp_path: Path) -> Path:  # noqa: F811
    home = tmp_path / "home"
    shutil.copytree(pristine, home)
    return export_record(home / "archive", IDS[2], tmp_path / "out" / IDS[2],
                         *trust(pki)).path


def test_an_exported_record_checks_out_without_records(exported: Path, pki: DevPki) -> None:
    done = verify(exported, pki.root_cert)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["ok     bag", "ok     object", "ok     inclusion",
                                        "ok     signature"]


def test_a_changed_file_is_caught_even_when_the_bag_is_redone(exported: Path,
                                                               pki: DevPki) -> None:
    [pdf] = (exported / "data" / "object").rglob(f"{IDS[2]}.pdf")
    flip(pdf)
    rebag(exported)
    done = verify(exported, pki.root_cert)
    assert done.returncode == 1 and "FAILED object" in done.stdout and "ok     bag" in done.stdout


def test_a_rewritten_inventory_is_caught_by_the_log(exported: Path, pki: DevPki) -> None:
    obj = exported / "data" / "object"
    inventory = json.loads((obj / "inventory.json").read_text())
    inventory["versions"][inventory["head"]]["message"] = "nothing changed here"
    raw = json.dumps(inventory).encode()
    (obj / "inventory.json").write_bytes(raw)
    (obj / "inventory.json.sha512").write_text(f"{hashlib.sha512(raw).hexdigest()} "
                                               "inventory.json\n")
    rebag(exported)
    done = verify(exported, pki.root_cert)
    assert done.returncode == 1 and "FAILED inclusion" in done.stdout
    assert "ok     object" in done.stdout


def test_a_head_signed_by_another_key_is_refused(exported: Path, pki: DevPki,
                                                 tmp_path: Path) -> None:
    other = init_dev_pki(tmp_path / "other", service_url="http://127.0.0.1:1")
    signer = load_pkcs12(other.pkcs12("organisation"), other.passphrase_file.read_bytes(),
                         "organisation", [])
    proof = exported / "data" / "proof"
    (proof / "head.p7s").write_bytes(sign_bytes(signer, SignOptions(),
                                                (proof / "head.json").read_bytes())[0])
    rebag(exported)
    refused = verify(exported, pki.root_cert)
    assert refused.returncode == 1 and "FAILED signature" in refused.stdout
    # What decides is whose root and seal the auditor trusts: under the forger's own, it
    # passes; so they must come from the organisation, not from the bag.
    assert "ok     signature" in verify(exported, other.root_cert, other.cert("organisation")
                                        ).stdout


def test_a_head_signed_under_the_same_root_by_another_certificate_is_refused(
        exported: Path, pki: DevPki) -> None:
    """A person of the organisation (or its time-stamping authority) is not its seal."""
    roots = trust_roots(SigningSettings(), pki.folder.parent)
    person = load_pkcs12(pki.pkcs12("personal"), pki.passphrase_file.read_bytes(), "personal",
                         roots)
    proof = exported / "data" / "proof"
    (proof / "head.p7s").write_bytes(sign_bytes(person, SignOptions(),
                                                (proof / "head.json").read_bytes())[0])
    rebag(exported)
    done = verify(exported, pki.root_cert)
    assert done.returncode == 1 and "not the organisation's seal" in done.stdout


def test_a_record_that_fails_verification_is_not_exported(pristine: Path,  # noqa: F811
                                                          pki: DevPki, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(pristine, home)
    [page_text] = (home / "archive" / IDS[0]).rglob("0001.txt")
    flip(page_text)
    with pytest.raises(NotExported, match="changed"):
        export_record(home / "archive", IDS[0], tmp_path / "out" / IDS[0], *trust(pki))
    assert not (tmp_path / "out").exists()
