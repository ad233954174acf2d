"""Signing the archive's log, and checking it: the organisation vouches for every record
version and every line of the audit and checks logs at once.

A tree head (``archive.store.TreeHead``) is signed with the key that certifies the PDFs, as a
detached CMS signature over its exact bytes, time-stamped when a time-stamp authority is
configured (RFC 3161). CMS is what ``openssl cms -verify`` reads, so a head can be checked
without records (``tools/verify_copy.py``). A head is signed after every batch, renewal and
migration, and by ``records log sign``.

Checking the log (:func:`read_log`) fails closed and names what it finds: a damaged line, a
head whose signature is not valid or not trusted, a head missing from the sequence, a tree
that no longer has the root a head signed (a leaf changed, deleted or the log cut short), a
chained log whose signed prefix was rewritten, and versions not yet under a signed head.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from asn1crypto import cms, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.x509 import load_der_x509_certificate
from pyhanko.sign import timestamps
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from archive.signing.sign import ArchiveSigner, SigningError, SignOptions, public_url
from archive.signing.verify import Check
from archive.store import (
    ArchiveLog,
    ChainedLog,
    Inventory,
    Leaf,
    LogContents,
    StoredHead,
    TreeHead,
    Vouch,
    chained_logs,
    inclusion_proof,
    merkle_root,
    verify_consistency,
)


def sign_bytes(signer: ArchiveSigner, options: SignOptions, data: bytes) -> tuple[bytes, str]:
    """A detached CMS signature over ``data`` (DER), time-stamped when a TSA is configured,
    and why it is not when the TSA did not answer ("" when it is, or none is configured).

    A head is signed even when the TSA is down: the signature alone already binds the log,
    and the next head, a batch later, carries a time-stamp again."""
    async def sign(stamper: timestamps.TimeStamper | None) -> bytes:
        signed = await signer.signer.async_sign_general_data(
            data, "sha256", detached=True, timestamper=stamper)
        return signed.dump()

    stamper = timestamps.HTTPTimeStamper(options.tsa_url) if options.tsa_url else None
    try:
        return asyncio.run(sign(stamper)), ""
    except timestamps.TimestampRequestError as exc:
        fallback = f"the time-stamp authority {public_url(options.tsa_url)} did not " \
                   f"answer ({exc})"
    except Exception as exc:
        raise SigningError(f"signing the log failed: {type(exc).__name__}: {exc}") from None
    return asyncio.run(sign(None)), fallback


def vouch_with(signer: ArchiveSigner) -> Vouch:
    """What the committer of a version calls to sign its leaf with the seal: a signature
    over the leaf's three fields (SHA-256, RSA PKCS#1 v1.5), the same key as the PDFs'."""
    fingerprint = hashlib.sha256(signer.certificate.dump()).hexdigest()

    def vouch(leaf: Leaf) -> Leaf:
        raw = asyncio.run(signer.signer.async_sign_raw(leaf.core(), "sha256"))
        return replace(leaf, promise=base64.b64encode(raw).decode(), signer=fingerprint)
    return vouch


def promise_ok(leaf: Leaf, seals: list[x509.Certificate]) -> bool:
    """Whether the leaf carries a valid promise by one of the seals."""
    for seal in seals:
        if hashlib.sha256(seal.dump()).hexdigest() != leaf.signer:
            continue
        key = load_der_x509_certificate(seal.dump()).public_key()
        try:
            key.verify(base64.b64decode(leaf.promise, validate=True),  # type: ignore[call-arg]
                       leaf.core(), PKCS1v15(), SHA256())
        except (InvalidSignature, ValueError, TypeError, AttributeError):
            return False
        return True
    return False


def sign_log(home: Path, signer: ArchiveSigner, options: SignOptions) -> tuple[TreeHead, str]:
    """Sign a head of the log as it is now; return it, and why it has no time-stamp, if so.

    Only what the seal promised is signed: a leaf appended since the last head that carries
    no valid promise by this signer was not committed by records, and signing would vouch
    for it. Then nothing is signed, and the error names the leaf."""
    log = ArchiveLog(home)
    with log.locked():
        head = log.draft_head()
        stored, _ = log.heads()
        since = stored[-1].head.tree_size if stored else 0
        strangers = [(index, leaf) for index, leaf in enumerate(log.read().leaves[since:],
                                                                start=since)
                     if not promise_ok(leaf, [signer.certificate])]
        if strangers:
            index, leaf = strangers[0]
            raise SigningError(f"the log holds {len(strangers)} record version(s) the seal "
                               f"never promised (first: leaf {index + 1}, {leaf.record_id} "
                               f"{leaf.version}): records did not commit them, so the log is "
                               "not signed; run `records verify --all`")
        signature, fallback = sign_bytes(signer, options, head.encode())
        log.save_head(head, signature)
    return head, fallback


def verify_signature(data: bytes, signature: bytes, roots: list[x509.Certificate],
                     seals: list[x509.Certificate], at: datetime | None = None) -> Check:
    """Whether ``signature`` is a valid CMS signature over ``data`` by one of the ``seals``,
    chaining to ``roots``, as of ``at`` (now by default; an older head is judged at the time
    it was signed, so it stays valid after its certificate expires). Offline."""
    try:
        content = cms.ContentInfo.load(signature)
        signed = content["content"]
        # The chain travels in the signature; only the roots come from this archive's trust.
        chain = [c.chosen for c in signed["certificates"] or [] if c.name == "certificate"]
        context = ValidationContext(trust_roots=roots, allow_fetching=False, other_certs=chain,
                                    moment=at)
        status = asyncio.run(async_validate_detached_cms(
            data, signed, signer_validation_context=context))
    except Exception as exc:
        return Check(False, f"the signature cannot be read: {type(exc).__name__}")
    if not status.intact:
        return Check(False, "the signature does not match the head: the head was changed")
    who = status.signing_cert.subject.human_friendly
    if status.signing_cert.dump() not in {seal.dump() for seal in seals}:
        return Check(False, f"signed by {who}, which is not the archive's seal "
                            "(signing.seal_certificates)")
    if not status.valid or not status.trusted:
        return Check(False, f"the signature by {who} is not valid, or does not chain to a "
                            "trusted root")
    stamped = " and time-stamped" if status.timestamp_validity else ""
    return Check(True, f"signed{stamped} by {who}")


@dataclass
class LogState:
    """The log as read and checked once, for every record checked against it."""

    contents: LogContents
    heads: list[StoredHead]
    seals: list[x509.Certificate] = field(default_factory=list)
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks.values())

    @property
    def signed_size(self) -> int:
        return self.heads[-1].head.tree_size if self.heads else 0

    def record_check(self, record_id: str, inventory: Inventory | None) -> Check:
        """Whether the log holds, under a signed head, the version the object holds now."""
        found = self.contents.latest().get(record_id)
        if found is None:
            return Check(False, "not in the archive's log: nothing vouches for this record")
        index, leaf = found
        if inventory is None:
            return Check(False, f"the log holds {leaf.version} of it, but the archive has no "
                                "such object: the record was deleted")
        if inventory.head != leaf.version:
            newer = _number(inventory.head) > _number(leaf.version)
            return Check(False, f"the object's head is {inventory.head}, the log's "
                                f"{leaf.version}: " + ("a version the log does not know"
                                                       if newer else "versions were deleted"))
        if inventory.sha512 != leaf.inventory_sha512:
            return Check(False, f"the inventory of {leaf.version} is not the one the log "
                                "holds: the object was changed")
        if index >= self.signed_size:
            if promise_ok(leaf, self.seals):
                return Check(True, f"{leaf.version} is leaf {index + 1}, promised by the seal "
                                   "when it was committed; no head signed over it yet")
            return Check(False, f"{leaf.version} is in the log with no promise by the seal: "
                                "records did not commit it")
        return Check(True, f"{leaf.version} is leaf {index + 1} of {self.signed_size} under "
                           f"signed head {self.heads[-1].head.number}")


def read_log(home: Path, roots: list[x509.Certificate], seals: list[x509.Certificate], *,
             all_signatures: bool = True) -> LogState:
    """Read the log and check it as a whole (``all_signatures``: every head's signature, not
    only the latest's). Each check is guarded: a file broken in a way no check foresaw fails
    that check, by name, and the others still run."""
    log = ArchiveLog(home)
    contents = log.read()
    heads, unreadable = log.heads()
    state = LogState(contents, heads, list(seals))
    checks = state.checks
    _guard(checks, "log-leaves", lambda: _check_leaves(contents))
    if not heads:
        vouched = all(promise_ok(leaf, seals) for leaf in contents.leaves)
        checks["log-heads"] = Check(vouched and not unreadable, "; ".join(unreadable) or (
            "no signed head yet; every version was promised by the seal" if vouched else
            "no signed head, and versions no seal promised"))
        return state
    _guard(checks, "log-heads", lambda: _check_heads(log, heads, unreadable, roots, seals,
                                                     all_signatures))
    _guard(checks, "log-tree", lambda: _check_tree(heads, contents))
    _guard(checks, "log-proofs", lambda: _check_proofs(log, heads))
    _guard(checks, "log-signed", lambda: _check_tail(state))
    for name, path in chained_logs(home).items():
        _guard(checks, f"log-{name}", lambda n=name, p=path: _check_chain(n, ChainedLog(p),
                                                                           heads[-1].head))
    return state


def _guard(checks: dict[str, Check], name: str, run: Callable[[], Check]) -> None:
    try:
        checks[name] = run()
    except Exception as exc:  # a log broken beyond what was foreseen: a named failure
        checks[name] = Check(False, f"cannot be checked: {type(exc).__name__}: {exc}"[:300])


def _number(version: str) -> int:
    return int(version[1:]) if version[1:].isdigit() else -1


def _check_leaves(contents: LogContents) -> Check:
    """Every line a leaf, and each record's versions in order: v1, v2, ... each once."""
    problems = list(contents.problems)
    seen: dict[str, Leaf] = {}
    for index, leaf in enumerate(contents.leaves, start=1):
        before = seen.get(leaf.record_id)
        if before is not None and before.same_version(leaf):
            continue  # the same version logged twice (a crash, then recovery): harmless
        expected = _number(before.version) + 1 if before else 1
        if _number(leaf.version) != expected:
            problems.append(f"leaf {index}: {leaf.record_id} {leaf.version} where "
                            f"v{expected} was due (a version rewritten or removed)")
        seen[leaf.record_id] = leaf
    return Check(not problems, "; ".join(problems[:10]) or
                 f"{len(contents.leaves)} leaves, each one record version, in order")


def _check_tail(state: LogState) -> Check:
    """Leaves after the latest signed head: each must carry the seal's promise."""
    tail = state.contents.leaves[state.signed_size:]
    strangers = [leaf for leaf in tail if not promise_ok(leaf, state.seals)]
    if strangers:
        return Check(False, f"{len(strangers)} record version(s) after the latest signed head "
                            f"carry no promise by the seal (first: {strangers[0].record_id} "
                            f"{strangers[0].version}): records did not commit them")
    if tail:
        return Check(True, f"{len(tail)} versions since head {state.heads[-1].head.number}, "
                           "each promised by the seal at commit")
    return Check(True, f"every version is under signed head {state.heads[-1].head.number}")


def _check_heads(log: ArchiveLog, heads: list[StoredHead], unreadable: list[str],
                 roots: list[x509.Certificate], seals: list[x509.Certificate],
                 all_signatures: bool) -> Check:
    problems = list(unreadable)
    numbers = [h.head.number for h in heads]
    if numbers != list(range(1, len(heads) + 1)):
        problems.append(f"heads numbered {_ranges(numbers)}: signed heads were deleted")
    last = numbers[-1]
    later = sorted(p.name for p in (log.folder / "proofs").glob("*.json")
                   if _proof_reaches(p.name) > last)
    if later:
        problems.append(f"consistency proofs to heads after head {last} ({later[0]}): the "
                        "newest heads were deleted")
    for stored in heads[:-1] if all_signatures else []:
        signed = verify_signature(stored.raw, stored.signature, roots, seals,
                                  at=_moment(stored.head.time))
        if not signed.ok:
            problems.append(f"head {stored.head.number}: {signed.detail}")
    latest = verify_signature(heads[-1].raw, heads[-1].signature, roots, seals)
    if not latest.ok:
        problems.append(f"head {heads[-1].head.number}: {latest.detail}")
    return Check(not problems, "; ".join(problems) or
                 f"{len(heads)} signed heads; the latest {latest.detail}")


def _ranges(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:10]))
    return shown + (", ..." if len(numbers) > 10 else "")


def _proof_reaches(name: str) -> int:
    second = name.removesuffix(".json").partition("-")[2]
    return int(second) if second.isdigit() else 0


def _moment(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return None


def _check_tree(heads: list[StoredHead], contents: LogContents) -> Check:
    hashes = contents.hashes
    problems = []
    for stored in heads:
        head = stored.head
        if head.tree_size > len(hashes):
            problems.append(f"head {head.number} signed {head.tree_size} leaves, the log has "
                            f"{len(hashes)}: the log was cut short")
        elif merkle_root(hashes[: head.tree_size]).hex() != head.root:
            problems.append(f"the first {head.tree_size} leaves no longer have the root head "
                            f"{head.number} signed: leaves were changed or removed")
    return Check(not problems, "; ".join(problems) or
                 f"every head's root matches the leaves (latest: {heads[-1].head.tree_size})")


def _check_proofs(log: ArchiveLog, heads: list[StoredHead]) -> Check:
    """The consistency proofs kept for auditors who hold only heads: each must prove its
    head extends the one before."""
    problems = []
    for before, after in itertools.pairwise(heads):
        first, second = before.head, after.head
        if first.tree_size == 0 or first.tree_size == second.tree_size:
            continue
        path = log.folder / "proofs" / f"{first.number:06d}-{second.number:06d}.json"
        try:
            kept = json.loads(path.read_bytes())
            proof = [bytes.fromhex(h) for h in kept["proof"]]
        except (OSError, ValueError, KeyError, TypeError):
            problems.append(f"no readable consistency proof from head {first.number} to "
                            f"{second.number}")
            continue
        if not verify_consistency(first.tree_size, second.tree_size, bytes.fromhex(first.root),
                                  bytes.fromhex(second.root), proof):
            problems.append(f"head {second.number} does not extend head {first.number}")
    return Check(not problems, "; ".join(problems) or "each head extends the one before")


def _check_chain(name: str, chain: ChainedLog, head: TreeHead) -> Check:
    """A chained log: unbroken, and its first lines still the ones the latest head signed."""
    problems, _ = chain.check()
    signed = head.chains.get(name)
    lines = len(chain.lines())
    if signed is not None:
        at = chain.head_at(signed.entries)
        if at is None:
            problems.append(f"head {head.number} signed {signed.entries} entries, the log has "
                            f"{lines}: entries were deleted")
        elif at != signed.head:
            problems.append(f"its first {signed.entries} entries are not the ones head "
                            f"{head.number} signed: entries were rewritten")
    if problems:
        return Check(False, "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more"
                                                       if len(problems) > 5 else ""))
    after = lines - (signed.entries if signed else 0)
    return Check(True, f"{lines} entries, intact" + (f"; the last {after} after the latest "
                                                     "signed head" if after else ""))


def inclusion(state: LogState, record_id: str) -> dict[str, object]:
    """What a verifier needs to check a record against the latest signed head without the
    log: the leaf, its index, the tree size and the proof (RFC 9162's audit path)."""
    index, leaf = state.contents.latest()[record_id]
    size = state.signed_size
    return {"leaf": leaf.encode().decode(), "leaf_index": index, "tree_size": size,
            "audit_path": [h.hex() for h in inclusion_proof(index, state.contents.hashes[:size])],
            "head": state.heads[-1].path.name}
