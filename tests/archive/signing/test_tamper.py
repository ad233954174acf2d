"""The tamper matrix: what an insider with write access to the archive folder, but not the
signing key, could try. Each attack is caught by a named check, and every other record still
verifies. The untouched archive passes ocfl-py's own OCFL validator."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.access import AuditLog
from archive.signing import (
    DevPki,
    SignOptions,
    check_fixity,
    init_dev_pki,
    load_pkcs12,
    sign_log,
    sign_pdf,
    trust_roots,
    verify_archive,
    vouch_with,
)
from archive.store import (
    ArchiveLog,
    ChainedLog,
    Descriptive,
    RecordPaths,
    checks_log_path,
    dublin_core,
    new_version,
    sidecar,
    store_record,
)
from config.settings import SigningSettings
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from tests.conftest import Scans

IDS = ("VP-2024-000001", "VP-2024-000002", "VP-2024-000003")
VERSIONED = IDS[2]  # has a second version


def trust(pki: DevPki) -> tuple[list, list]:  # type: ignore[type-arg]
    """The trust roots, and the seal (the organisation's certificate)."""
    signer = _signer(pki)
    return signer.trust_roots, [signer.certificate]


def _signer(pki: DevPki):  # type: ignore[no-untyped-def]
    roots = trust_roots(SigningSettings(), pki.folder.parent)
    return load_pkcs12(pki.pkcs12("organisation"), pki.passphrase_file.read_bytes(),
                       "organisation", roots)


@pytest.fixture(scope="module")
def pristine(scans: Scans, pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with three signed records (one with two versions), checks and audit entries,
    all under a signed head of the log; heads 1 to 3."""
    home = tmp_path_factory.mktemp("tamper") / "home"
    signer = _signer(pki)
    work = tmp_path_factory.mktemp("tamper-work")
    for n, record_id in enumerate(IDS, start=1):
        page, _ = scans.page("vie", seed=60 + n)
        described = Descriptive(title=f"Công văn {n}", unit="VP", date="2024-09-16",
                                language="vie")
        unsigned, signed = work / f"{n}.pdf", work / f"{n}.signed.pdf"
        result = ocr_to_pdfa([page], unsigned, OcrOptions(languages="vie"), work / "cache",
                             dublin_core(described, record_id))
        signature = sign_pdf(signer, SignOptions(), unsigned, signed)
        store_record(home / "archive", content_sha=str(n) * 64, unit="VP", year=2024,
                     source=page, pdf=signed, page_dirs=[p.path for p in result.pages],
                     record_id=record_id, vouch=vouch_with(signer),
                     sidecar=sidecar(described, {"page_count": 1}, [], "B", str(n) * 64,
                                     page.name, signature.as_dict()))
        sign_log(home, signer, SignOptions())
    new_version(home / "archive", VERSIONED, {"notes/correction.txt": b"a later note"},
                "a second version", vouch=vouch_with(signer))
    for n in range(3):
        AuditLog(home).record("lan", "search", query=f"q{n}")
    check_fixity(home / "archive", list(IDS), signer.trust_roots, [signer.certificate])
    sign_log(home, signer, SignOptions())
    return home


@dataclass(frozen=True)
class Attack:
    name: str
    act: Callable[[Path, DevPki], None]
    check: str  # the named check that catches it (record checks name a record: "ID:check")
    words: str


def writable(path: Path) -> Path:
    for sub in [path, *path.rglob("*")] if path.is_dir() else [path]:
        sub.chmod(0o755 if sub.is_dir() else 0o644)
    return path


def record(home: Path, record_id: str = IDS[0]) -> RecordPaths:
    return RecordPaths(home / "archive" / record_id, record_id)


def flip(path: Path) -> None:
    data = bytearray(writable(path).read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def flip_kind(logical: str) -> Callable[[Path, DevPki], None]:
    def act(home: Path, _pki: DevPki) -> None:
        found = [p for p in record(home).inventory.state() if p.endswith(logical)]
        flip(record(home).file(found[0]))  # type: ignore[arg-type]
    return act


def rewrite_sidecar_and_inventory(home: Path, _pki: DevPki) -> None:
    """Change the record's metadata and recompute every digest OCFL keeps: the object is
    self-consistent again, only the log disagrees."""
    folder = writable(home / "archive" / IDS[0])
    sidecar_path = record(home).sidecar
    text = sidecar_path.read_text().replace("Công văn 1", "Công văn 1 (sửa)")
    sidecar_path.write_text(text)
    inventory = json.loads((folder / "inventory.json").read_text())
    digest = hashlib.sha512(text.encode()).hexdigest()
    content = sidecar_path.relative_to(folder).as_posix()
    for table in (inventory["manifest"], inventory["versions"]["v1"]["state"]):
        for old, paths in list(table.items()):
            if content in paths or "record.json" in paths:
                table[digest] = table.pop(old)
    raw = json.dumps(inventory, indent=2).encode()
    for where in (folder, folder / "v1"):
        (where / "inventory.json").write_bytes(raw)
        (where / "inventory.json.sha512").write_text(
            f"{hashlib.sha512(raw).hexdigest()} inventory.json\n")


def delete_record(home: Path, _pki: DevPki) -> None:
    shutil.rmtree(writable(home / "archive" / IDS[0]))


def delete_inventory(home: Path, _pki: DevPki) -> None:
    (writable(home / "archive" / IDS[0]) / "inventory.json").unlink()


def add_file(home: Path, _pki: DevPki) -> None:
    (writable(home / "archive" / IDS[0]) / "v1" / "content" / "extra.pdf").write_bytes(b"x")


def add_record(home: Path, _pki: DevPki) -> None:
    shutil.copytree(home / "archive" / IDS[1], home / "archive" / "VP-2024-000009")


def add_stray(home: Path, _pki: DevPki) -> None:
    (writable(home / "archive") / "notes.txt").write_text("left here")


def delete_version(home: Path, _pki: DevPki) -> None:
    folder = writable(home / "archive" / VERSIONED)
    shutil.rmtree(folder / "v2")
    for name in ("inventory.json", "inventory.json.sha512"):
        shutil.copyfile(folder / "v1" / name, folder / name)


def swap_copies(home: Path, _pki: DevPki) -> None:
    first, second = record(home, IDS[0]).pdf, record(home, IDS[1]).pdf
    data = writable(first).read_bytes()
    first.write_bytes(writable(second).read_bytes())
    second.write_bytes(data)


def truncate_log(home: Path, _pki: DevPki) -> None:
    leaves = ArchiveLog(home).leaves_path
    leaves.write_bytes(b"".join(line + b"\n" for line in leaves.read_bytes().splitlines()[:-1]))


def garbage_in_log(home: Path, _pki: DevPki) -> None:
    with ArchiveLog(home).leaves_path.open("ab") as handle:
        handle.write(b'{"record_id": "VP-2024-0000\n')


def foreign_head(home: Path, _pki: DevPki) -> None:
    """The latest head replaced by one signed with another organisation's key."""
    other = init_dev_pki(home.parent / "other", service_url="http://127.0.0.1:1")
    signer = _signer(other)
    stored, _ = ArchiveLog(home).heads()
    raw = stored[-1].raw
    from archive.signing import sign_bytes

    stored[-1].path.with_suffix(".p7s").write_bytes(sign_bytes(signer, SignOptions(), raw)[0])


def delete_middle_head(home: Path, _pki: DevPki) -> None:
    heads = sorted((home / "log" / "heads").glob("000002.*"))
    for path in heads:
        path.unlink()


def rewrite_proof(home: Path, _pki: DevPki) -> None:
    """A kept consistency proof with one hash changed: it proves nothing any more."""
    proof = sorted((home / "log" / "proofs").glob("*.json"))[0]
    kept = json.loads(proof.read_bytes())
    kept["proof"][0] = "00" * 32
    proof.write_text(json.dumps(kept))


def delete_proof(home: Path, _pki: DevPki) -> None:
    sorted((home / "log" / "proofs").glob("*.json"))[0].unlink()


def rechain(path: Path, edit: Callable[[dict], None]) -> None:
    """Edit the first entry of a chained log and recompute every hash after it: the chain
    is intact again; only the signed head disagrees."""
    entries = [json.loads(line) for line in path.read_bytes().splitlines()]
    edit(entries[0])
    path.unlink()
    for entry in entries:
        entry.pop("previous")
        ChainedLog(path).append(entry)


def rewrite_audit(home: Path, _pki: DevPki) -> None:
    rechain(AuditLog(home).path, lambda e: e.update(query="nothing to see"))


def rewrite_checks(home: Path, _pki: DevPki) -> None:
    rechain(checks_log_path(home), lambda e: e.update(outcome="failure"))


def delete_check_line(home: Path, _pki: DevPki) -> None:
    path = checks_log_path(home)
    path.write_bytes(b"".join(line + b"\n" for line in path.read_bytes().splitlines()[1:]))


def forge_leaf(home: Path, pki: DevPki) -> None:
    """The forger's whole job: change a scan, make the object self-consistent again, append
    the matching leaf, and ask records to sign the log. The signing is refused."""
    rewrite_sidecar_and_inventory(home, pki)
    from archive.store import Leaf, read_inventory

    inventory = read_inventory(home / "archive" / IDS[0])
    with ArchiveLog(home).leaves_path.open("ab") as handle:
        handle.write(Leaf(IDS[0], "v1", inventory.sha512).encode() + b"\n")
    from archive.signing import SigningError

    with pytest.raises(SigningError, match="never promised"):
        sign_log(home, _signer(pki), SignOptions())


def forge_intent(home: Path, pki: DevPki) -> None:
    """The same leaf, left as a commit intent for records' own recovery to log."""
    rewrite_sidecar_and_inventory(home, pki)
    from archive.store import Leaf, read_inventory

    inventory = read_inventory(home / "archive" / IDS[0])
    intent = home / "work" / "intents" / f"{IDS[0]}.json"
    intent.parent.mkdir(parents=True, exist_ok=True)
    intent.write_bytes(Leaf(IDS[0], "v1", inventory.sha512).encode())


def personal_head(home: Path, pki: DevPki) -> None:
    """A head re-signed by a certificate of the same organisation that is not its seal."""
    roots = trust_roots(SigningSettings(), pki.folder.parent)
    person = load_pkcs12(pki.pkcs12("personal"), pki.passphrase_file.read_bytes(), "personal",
                         roots)
    from archive.signing import sign_bytes

    stored, _ = ArchiveLog(home).heads()
    stored[-1].path.with_suffix(".p7s").write_bytes(
        sign_bytes(person, SignOptions(), stored[-1].raw)[0])


def delete_newest_head(home: Path, _pki: DevPki) -> None:
    for path in (home / "log" / "heads").glob("000004.*"):
        path.unlink()


def empty_version_folder(home: Path, _pki: DevPki) -> None:
    (writable(home / "archive" / IDS[0]) / "v9").mkdir()


def link_in_content(home: Path, _pki: DevPki) -> None:
    (writable(home / "archive" / IDS[0]) / "v1" / "content" / "keys").symlink_to(home / "work")


def rewrite_version_inventory(home: Path, _pki: DevPki) -> None:
    folder = writable(home / "archive" / IDS[0])
    raw = (folder / "v1" / "inventory.json").read_bytes().replace(b'"ingest', b'"nothing')
    (folder / "v1" / "inventory.json").write_bytes(raw)
    (folder / "v1" / "inventory.json.sha512").write_text(
        f"{hashlib.sha512(raw).hexdigest()} inventory.json\n")


def hidden_copy(home: Path, _pki: DevPki) -> None:
    shutil.copytree(home / "archive" / IDS[1], home / "archive" / "extensions" / "copies" / "x")


def old_staging(home: Path, _pki: DevPki) -> None:
    """A half-built object left in staging by a crash two days ago."""
    staging = home / "archive" / "extensions" / "records-staging"
    staging.mkdir(parents=True, exist_ok=True)
    leftover = writable(staging) / "VP-2024-000042"
    leftover.mkdir()
    (leftover / "half.pdf").write_bytes(b"%PDF-1.7 half")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(leftover, (two_days_ago, two_days_ago))


def spec_copy(home: Path, _pki: DevPki) -> None:
    (writable(home / "archive") / "ocfl_1.1.md").write_text("anything at all")


ATTACKS = [
    Attack("flip a byte of the PDF", flip_kind(".pdf"), f"{IDS[0]}:object", "changed"),
    Attack("flip a byte of an original", flip_kind(".png"), f"{IDS[0]}:object", "changed"),
    Attack("flip a byte of page text", flip_kind("0001.txt"), f"{IDS[0]}:object", "changed"),
    Attack("flip a byte of ALTO", flip_kind(".alto.xml"), f"{IDS[0]}:object", "changed"),
    Attack("flip a byte of hOCR", flip_kind(".hocr"), f"{IDS[0]}:object", "changed"),
    Attack("flip a byte of record.json", flip_kind("record.json"), f"{IDS[0]}:object",
           "changed"),
    Attack("rewrite record.json and the inventory", rewrite_sidecar_and_inventory,
           f"{IDS[0]}:log", "not the one the log holds"),
    Attack("delete a record", delete_record, f"{IDS[0]}:log", "the record was deleted"),
    Attack("delete its inventory", delete_inventory, f"{IDS[0]}:object", "no record"),
    Attack("add a file", add_file, f"{IDS[0]}:object", "not in the inventory"),
    Attack("add a record", add_record, "VP-2024-000009:log", "not in the archive's log"),
    Attack("add a stray file", add_stray, "notes.txt:object", "not a record"),
    Attack("delete a version", delete_version, f"{VERSIONED}:log", "versions were deleted"),
    Attack("swap two records' copies", swap_copies, f"{IDS[0]}:object", "changed"),
    Attack("truncate the log", truncate_log, "log-tree", "cut short"),
    Attack("garbage in the log", garbage_in_log, "log-leaves", "damaged"),
    Attack("a head signed by another key", foreign_head, "log-heads", "not the archive's seal"),
    Attack("delete a signed head", delete_middle_head, "log-heads", "deleted"),
    Attack("rewrite a kept consistency proof", rewrite_proof, "log-proofs",
           "does not extend head"),
    Attack("delete a kept consistency proof", delete_proof, "log-proofs",
           "no readable consistency proof"),
    Attack("rewrite the audit log, re-chained", rewrite_audit, "log-audit", "rewritten"),
    Attack("rewrite the checks log, re-chained", rewrite_checks, "log-checks", "rewritten"),
    Attack("delete a check", delete_check_line, "log-checks", "does not follow"),
    Attack("forge a leaf and ask for a signature", forge_leaf, "log-signed", "no promise"),
    Attack("forge a commit intent", forge_intent, f"{IDS[0]}:log", "records did not commit"),
    Attack("a head signed by a person's certificate", personal_head, "log-heads",
           "not the archive's seal"),
    Attack("delete the newest head", delete_newest_head, "log-heads",
           "newest heads were deleted"),
    Attack("an empty version folder", empty_version_folder, f"{IDS[0]}:object",
           "v9/: not in the inventory"),
    Attack("a link in the content", link_in_content, f"{IDS[0]}:object", "symbolic link"),
    Attack("rewrite a version's inventory", rewrite_version_inventory, f"{IDS[0]}:object",
           "not the object's inventory"),
    Attack("staging a crash left two days ago", old_staging,
           "extensions/records-staging/VP-2024-000042:object", "a day or more ago"),
    Attack("a copy hidden in extensions", hidden_copy, "extensions/copies:object",
           "not an extension"),
    Attack("a file passed off as the specification", spec_copy, "ocfl_1.1.md:object",
           "not a record"),
]


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(pristine, copy, symlinks=True)
    return copy


def test_the_untouched_archive_verifies_and_is_valid_ocfl(pristine: Path, pki: DevPki,
                                                           tmp_path: Path) -> None:
    shutil.copytree(pristine, tmp_path / "home")
    verdict = verify_archive(tmp_path / "home" / "archive", *trust(pki))
    assert verdict.ok, verdict.as_dict()
    assert sorted(v.record_id for v in verdict.records) == list(IDS)
    assert ocfl_validate(pristine / "archive").returncode == 0
    flip_kind(".pdf")(tmp_path / "home", pki)  # and the validator does look at the bytes
    assert ocfl_validate(tmp_path / "home" / "archive").returncode == 1


def ocfl_validate(root: Path) -> subprocess.CompletedProcess[str]:
    """ocfl-py's validator, an implementation of the specification independent of ours: the
    storage root, and each object by itself (ocfl-py 2.1 judges a root by its layout alone and
    only logs what is wrong inside its objects)."""
    validator = Path(sys.executable).with_name("ocfl-validate.py")
    objects = [p for p in sorted(root.iterdir()) if (p / "0=ocfl_object_1.1").is_file()]
    return subprocess.run([sys.executable, str(validator), str(root), *map(str, objects)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_each_attack_is_caught_by_name(home: Path, pki: DevPki, attack: Attack) -> None:
    attack.act(home, pki)
    verdict = verify_archive(home / "archive", *trust(pki))
    assert not verdict.ok
    failed = {name: check.detail for name, check in verdict.log.items() if not check.ok}
    for record_verdict in verdict.records:
        failed.update({f"{record_verdict.record_id}:{name}": check.detail
                       for name, check in record_verdict.checks.items() if not check.ok})
    assert attack.check in failed, failed
    assert attack.words in failed[attack.check]
    touched = {name.split(":")[0] for name in failed}
    if not attack.check.startswith("log-"):  # the other records still verify
        others = [v for v in verdict.records if v.record_id not in touched]
        assert others and all(v.ok for v in others)


def test_records_deleted_with_their_log_are_missed_by_the_catalog(home: Path,
                                                                   pki: DevPki) -> None:
    """Everything an insider can reach deleted at once (objects, leaves, heads): nothing left
    to contradict but the catalog, which still names the records."""
    from archive.index import Catalog, index_package

    catalog = Catalog.open(f"sqlite:///{home / 'catalog.sqlite'}")
    for record_id in IDS:
        index_package(catalog, home / "archive" / record_id)
    for record_id in IDS:
        shutil.rmtree(writable(home / "archive" / record_id))
    shutil.rmtree(home / "log")
    verdict = verify_archive(home / "archive", *trust(pki), catalog)
    assert not verdict.ok
    assert {v.record_id: v.checks["log"].detail for v in verdict.records} == {
        record_id: "catalogued, but neither the log nor the archive holds it: the record was "
                   "deleted together with its log entries" for record_id in IDS}
