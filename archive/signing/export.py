"""Exporting a record as a BagIt bag that proves itself: the whole OCFL object, the latest
signed head of the archive's log, and the proof that the record's version is in it.

A copy is exported only after it passed every check ``records verify`` makes: a forged or
damaged record is refused with what is wrong, never packed into a valid bag. Whoever receives
the bag can check it with the published formats alone (BagIt, OCFL, RFC 9162, CMS), for
instance with ``tools/verify_copy.py``, without trusting records or its database.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import bagit
from asn1crypto import pem, x509

from archive.index import Catalog
from archive.signing.fixity import check_fixity
from archive.signing.heads import inclusion, read_log
from archive.store import committed_record, current_descriptive, home_of, make_writable
from config.errors import RecordsError

README = """This bag holds one record of a records archive and the proof that it is authentic
and complete.

data/object/          the record as an OCFL 1.1 object: inventory.json names every file of
                      every version with its SHA-512; v1/, v2/... hold the files. v1 is
                      the record as archived; a later version's corrections.json lists
                      what people corrected since (who, when, why, before and after).
data/proof/head.json  a signed tree head of the archive's log (RFC 9162 Merkle tree)
data/proof/head.p7s   its detached CMS signature by the organisation (DER)
data/proof/inclusion.json  the record's leaf (record id, version, SHA-512 of the object's
                      inventory.json), its index, and the audit path to the head's root
data/proof/trust-roots.pem  the certificates the archive trusted, and
data/proof/seal.pem   the organisation's seal, the one certificate that signs the log;
                      compare their fingerprints with ones the organisation publishes

To check: the SHA-512 of data/object/inventory.json is the leaf's; the leaf hash
SHA-256(0x00 || leaf) and the audit path give the head's root_sha256 (RFC 9162, 2.1.3.2);
`openssl cms -verify -binary -inform DER -in head.p7s -content head.json -CAfile
trust-roots.pem -purpose any -signer signer.pem` checks the signature, and signer.pem must be
the seal; every file under object/ must have the digest the inventory gives.
tools/verify_copy.py in the records sources does all of it.
"""


class NotExported(RecordsError):
    """The record failed verification: it is not exported."""


@dataclass(frozen=True)
class Exported:
    path: Path
    bag: bagit.Bag
    version: str
    head: int


def export_record(archive: Path, record_id: str, target: Path,
                  roots: list[x509.Certificate], seals: list[x509.Certificate],
                  catalog: Catalog | None = None) -> Exported:
    """Verify ``record_id``, then write it with its proof as a bag at ``target``."""
    paths = committed_record(archive, record_id)
    state = read_log(home_of(archive), roots, seals, all_signatures=False)
    [verdict] = check_fixity(archive, [record_id], roots, seals, catalog=catalog, log=state)
    problems = verdict.failures() + [f"{n}: {c.detail}" for n, c in state.checks.items()
                                     if not c.ok]
    if problems:
        raise NotExported(f"{record_id} failed verification and is not exported: "
                          + "; ".join(problems))
    proof = inclusion(state, record_id)
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(paths.folder, staging / "object", symlinks=True)
        (staging / "proof").mkdir()
        latest = state.heads[-1]
        (staging / "proof" / "head.json").write_bytes(latest.raw)
        (staging / "proof" / "head.p7s").write_bytes(latest.signature)
        (staging / "proof" / "inclusion.json").write_text(
            json.dumps(proof, indent=2, ensure_ascii=False), encoding="utf-8")
        (staging / "proof" / "trust-roots.pem").write_bytes(
            b"".join(pem.armor("CERTIFICATE", root.dump()) for root in roots))
        (staging / "proof" / "seal.pem").write_bytes(
            b"".join(pem.armor("CERTIFICATE", seal.dump()) for seal in seals))
        (staging / "proof" / "README.txt").write_text(README, encoding="utf-8")
        make_writable(staging)  # the archive's copy is read-only; the bag is its owner's
        described = current_descriptive(paths)  # as corrected; every version is in the bag
        bag = bagit.make_bag(str(staging), {
            "External-Identifier": record_id,
            "External-Description": described.title,
            "Source-Organization": described.unit,
        }, checksums=["sha256", "sha512"])
        bag.validate()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Exported(target, bagit.Bag(str(target)), paths.inventory.head, latest.head.number)
