#!/usr/bin/env python3
"""Check an exported record without records: its bag, its OCFL object, its place in the
archive's log, and the organisation's signature on that log.

This file is deliberately separate from records and imports nothing of it: it needs Python's
standard library and the ``openssl`` command, and follows only the published formats
(BagIt, RFC 8493; OCFL 1.1; Merkle tree proofs, RFC 9162; CMS, RFC 5652), so an auditor or a
court can read every line of it and trust no other code.

    python3 verify_copy.py BAG --trust ROOTS.pem --seal SEAL.pem
    python3 verify_copy.py OBJECT_FOLDER --head HEAD.json --signature HEAD.p7s \\
        --inclusion INCLUSION.json --trust ROOTS.pem --seal SEAL.pem

``--trust`` names the organisation's root certificate(s) and ``--seal`` its seal, the one
certificate that signs the archive's log, both obtained from the organisation itself; without
them the bag's own ``proof/trust-roots.pem`` and ``proof/seal.pem`` are used, and the output
says so. A head signed by any other certificate, even one under the same root (a person's,
the time-stamping authority's), is refused.
Prints one line per check and exits 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def sha(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def check_bag(bag: Path) -> list[str]:
    """BagIt: every payload file listed with the right digest, and nothing unlisted."""
    manifests = sorted(bag.glob("manifest-*.txt"))
    if not (bag / "bagit.txt").is_file() or not manifests:
        return ["not a BagIt bag (no bagit.txt or payload manifest)"]
    problems = []
    for manifest in manifests:
        algorithm = manifest.stem.split("-", 1)[1]
        listed = {}
        for line in manifest.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition(" ")
            listed[name.strip()] = digest
        for name, digest in listed.items():
            path = bag / name
            if not path.is_file():
                problems.append(f"{name}: listed in {manifest.name} but missing")
            elif sha(path, algorithm) != digest:
                problems.append(f"{name}: does not match {manifest.name}")
        unlisted = {f"data/{n}" for n in files_under(bag / "data")} - set(listed)
        problems += [f"{name}: in the bag but not in {manifest.name}" for name in sorted(unlisted)]
    return problems


def check_object(obj: Path) -> tuple[list[str], dict]:
    """OCFL 1.1: the inventory matches its sidecar, every file it names has its digest, and
    no file was added."""
    problems: list[str] = []
    if not (obj / "0=ocfl_object_1.1").is_file():
        problems.append("no 0=ocfl_object_1.1 declaration")
    try:
        raw = (obj / "inventory.json").read_bytes()
        inventory = json.loads(raw)
        algorithm = inventory["digestAlgorithm"]
        sidecar = (obj / f"inventory.json.{algorithm}").read_text(encoding="utf-8").split()[0]
    except (OSError, ValueError, KeyError, IndexError) as exc:
        return [f"inventory.json cannot be read ({type(exc).__name__})"], {}
    if algorithm not in ("sha512", "sha256"):
        problems.append(f"digest algorithm {algorithm} is not one OCFL 1.1 requires")
    if hashlib.new(algorithm, raw).hexdigest() != sidecar:
        problems.append("inventory.json does not match its sidecar")
    known = {"0=ocfl_object_1.1", "inventory.json", f"inventory.json.{algorithm}"}
    for version in inventory["versions"]:
        known |= {f"{version}/inventory.json", f"{version}/inventory.json.{algorithm}"}
    for digest, paths in inventory["manifest"].items():
        for path in paths:
            known.add(path)
            target = obj / path
            if not target.is_file():
                problems.append(f"{path}: missing")
            elif sha(target, algorithm) != digest:
                problems.append(f"{path}: changed")
    problems += [f"{path}: not in the inventory" for path in sorted(files_under(obj) - known)]
    inventory["_sha512"] = hashlib.sha512(raw).hexdigest()
    return problems, inventory


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """RFC 9162, 2.1.3.2: the root an audit path leads to, or None when it cannot be one."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, hashlib.sha256(b"\x00" + leaf).digest()
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def check_inclusion(inventory: dict, inclusion: dict, head: dict) -> list[str]:
    """The object's current version is the leaf, and the leaf is in the signed tree."""
    problems = []
    leaf = inclusion["leaf"].encode("utf-8")
    said = json.loads(leaf)
    canonical = json.dumps(said, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if canonical.encode("utf-8") != leaf:
        problems.append("the leaf is not in canonical form")
    expected = {"record_id": inventory.get("id"), "version": inventory.get("head"),
                "inventory_sha512": inventory.get("_sha512")}
    for key, value in expected.items():
        if said.get(key) != value:
            problems.append(f"the leaf's {key} is {said.get(key)!r}, the object's {value!r}")
    if inclusion["tree_size"] != head["tree_size"]:
        problems.append("the proof is for another tree size than the head's")
    path = [bytes.fromhex(h) for h in inclusion["audit_path"]]
    top = root_from_path(inclusion["leaf_index"], inclusion["tree_size"], leaf, path)
    if top is None or top.hex() != head["root_sha256"]:
        problems.append("the audit path does not lead to the signed root")
    return problems


def certificates(pem: str) -> set[bytes]:
    """The DER bytes of every certificate in a PEM text."""
    found = set()
    for block in pem.split("-----BEGIN CERTIFICATE-----")[1:]:
        body = block.split("-----END CERTIFICATE-----")[0]
        found.add(base64.b64decode("".join(body.split())))
    return found


def check_signature(head: Path, signature: Path, trust: Path, seal: Path) -> list[str]:
    """CMS: the head's bytes are what the organisation's seal signed, under its root."""
    openssl = shutil.which("openssl")
    if not openssl:
        return ["the openssl command is not installed"]
    with tempfile.TemporaryDirectory() as scratch:
        signer = Path(scratch) / "signer.pem"
        done = subprocess.run(
            [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature),
             "-content", str(head), "-CAfile", str(trust), "-purpose", "any",
             "-signer", str(signer), "-out", str(Path(scratch) / "content")],
            capture_output=True, text=True, check=False)
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or ["(nothing)"])[0]
            return [f"openssl does not accept the signature: {said}"]
        signed_by = certificates(signer.read_text(encoding="ascii"))
    if not signed_by & certificates(seal.read_text(encoding="ascii")):
        return ["the head is signed by a certificate that is not the organisation's seal"]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("copy", type=Path, help="an exported bag, or an OCFL object folder")
    parser.add_argument("--head", type=Path)
    parser.add_argument("--signature", type=Path)
    parser.add_argument("--inclusion", type=Path)
    parser.add_argument("--trust", type=Path, help="the organisation's root certificate(s)")
    parser.add_argument("--seal", type=Path, help="the organisation's seal certificate")
    args = parser.parse_args()
    results: list[tuple[str, list[str]]] = []
    obj, proof = args.copy, None
    if (args.copy / "bagit.txt").is_file():
        results.append(("bag", check_bag(args.copy)))
        obj, proof = args.copy / "data" / "object", args.copy / "data" / "proof"
    head = args.head or (proof / "head.json" if proof else None)
    signature = args.signature or (proof / "head.p7s" if proof else None)
    inclusion = args.inclusion or (proof / "inclusion.json" if proof else None)
    trust = args.trust or (proof / "trust-roots.pem" if proof else None)
    seal = args.seal or (proof / "seal.pem" if proof else None)
    if not (head and signature and inclusion and trust and seal):
        parser.error("an object folder needs --head, --signature, --inclusion, --trust and "
                     "--seal")
    object_problems, inventory = check_object(obj)
    results.append(("object", object_problems))
    try:
        head_data = json.loads(head.read_bytes())
        results.append(("inclusion", check_inclusion(
            inventory, json.loads(inclusion.read_bytes()), head_data)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        results.append(("inclusion", [f"the proof cannot be read ({type(exc).__name__})"]))
    results.append(("signature", check_signature(head, signature, trust, seal)))
    for name, problems in results:
        print(f"{'ok' if not problems else 'FAILED':6} {name}"
              + (": " + "; ".join(problems) if problems else ""))
    for given, name in ((args.trust, "trust-roots.pem"), (args.seal, "seal.pem")):
        if not given:
            print(f"note   trusted the bag's own {name}: compare its fingerprint with the "
                  "organisation's")
    return 0 if all(not p for _, p in results) else 1


if __name__ == "__main__":
    sys.exit(main())
