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
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import cms, x509
from pyhanko.sign import timestamps
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from archive.signing.sign import ArchiveSigner, SigningError, SignOptions, public_url
from archive.signing.verify import Check
from archive.store import (
    ArchiveLog,
    ChainedLog,
    Inventory,
    LogContents,
    StoredHead,
    TreeHead,
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
    with signer.lock:
        try:
            return asyncio.run(sign(stamper)), ""
        except timestamps.TimestampRequestError as exc:
            fallback = f"the time-stamp authority {public_url(options.tsa_url)} did not " \
                       f"answer ({exc})"
        except Exception as exc:
            raise SigningError(f"signing the log failed: {type(exc).__name__}: {exc}") \
                from None
        return asyncio.run(sign(None)), fallback


def sign_log(home: Path, signer: ArchiveSigner, options: SignOptions) -> tuple[TreeHead, str]:
    """Sign a head of the log as it is now; return it, and why it has no time-stamp, if
    so."""
    log = ArchiveLog(home)
    with log.locked():
        head = log.draft_head()
        signature, fallback = sign_bytes(signer, options, head.encode())
        log.save_head(head, signature)
    return head, fallback


def verify_signature(data: bytes, signature: bytes, roots: list[x509.Certificate]) -> Check:
    """Whether ``signature`` is a valid CMS signature over ``data`` by a certificate that
    chains to ``roots`` (offline: nothing is fetched)."""
    try:
        content = cms.ContentInfo.load(signature)
        signed = content["content"]
        # The chain travels in the signature; only the roots come from this archive's trust.
        chain = [c.chosen for c in signed["certificates"] or [] if c.name == "certificate"]
        context = ValidationContext(trust_roots=roots, allow_fetching=False, other_certs=chain)
        status = asyncio.run(async_validate_detached_cms(
            data, signed, signer_validation_context=context))
    except Exception as exc:
        return Check(False, f"the signature cannot be read: {type(exc).__name__}")
    if not status.intact:
        return Check(False, "the signature does not match the head: the head was changed")
    if not status.valid:
        return Check(False, "the signature is not valid")
    if not status.trusted:
        return Check(False, f"signed by {status.signing_cert.subject.human_friendly}, who "
                            "does not chain to a trusted root")
    stamped = " and time-stamped" if status.timestamp_validity else ""
    return Check(True, f"signed{stamped} by {status.signing_cert.subject.human_friendly}")


@dataclass
class LogState:
    """The log as read and checked once, for every record checked against it."""

    contents: LogContents
    heads: list[StoredHead]
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
            newer = int(inventory.head[1:]) > int(leaf.version[1:])
            return Check(False, f"the object's head is {inventory.head}, the log's "
                                f"{leaf.version}: " + ("a version the log does not know"
                                                       if newer else "versions were deleted"))
        if inventory.sha512 != leaf.inventory_sha512:
            return Check(False, f"the inventory of {leaf.version} is not the one the log "
                                "holds: the object was changed")
        if index >= self.signed_size:
            return Check(False, f"{leaf.version} is in the log but under no signed head yet "
                                "(`records log sign`)")
        return Check(True, f"{leaf.version} is leaf {index + 1} of {self.signed_size} under "
                           f"signed head {self.heads[-1].head.number}")


def read_log(home: Path, roots: list[x509.Certificate], *, all_signatures: bool = True
             ) -> LogState:
    """Read the log and check it as a whole (``all_signatures``: every head's signature, not
    only the latest's)."""
    log = ArchiveLog(home)
    contents = log.read()
    heads, unreadable = log.heads()
    state = LogState(contents, heads)
    checks = state.checks
    checks["log-leaves"] = Check(not contents.problems, "; ".join(contents.problems) or
                                 f"{len(contents.leaves)} leaves, each one record version")
    if not heads:
        checks["log-heads"] = Check(not contents.leaves and not unreadable,
                                    "; ".join(unreadable) or "no signed head: nothing vouches "
                                    "for the log (`records log sign`)")
        return state
    checks["log-heads"] = _check_heads(heads, unreadable, roots, all_signatures)
    checks["log-tree"] = _check_tree(heads, contents)
    checks["log-proofs"] = _check_proofs(log, heads)
    unsigned = len(contents.leaves) - state.signed_size
    checks["log-signed"] = Check(unsigned <= 0, f"{unsigned} record versions are under no "
                                 "signed head (`records log sign`)" if unsigned > 0 else
                                 f"every version is under signed head {heads[-1].head.number}")
    for name, path in chained_logs(home).items():
        checks[f"log-{name}"] = _check_chain(name, ChainedLog(path), heads[-1].head)
    return state


def _check_heads(heads: list[StoredHead], unreadable: list[str],
                 roots: list[x509.Certificate], all_signatures: bool) -> Check:
    problems = list(unreadable)
    numbers = [h.head.number for h in heads]
    if numbers != list(range(1, len(heads) + 1)):
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        problems.append(f"heads {', '.join(map(str, missing)) or 'out of order'} missing: "
                        "signed heads were deleted")
    for stored in heads if all_signatures else heads[-1:]:
        signed = verify_signature(stored.raw, stored.signature, roots)
        if not signed.ok:
            problems.append(f"head {stored.head.number}: {signed.detail}")
    latest = verify_signature(heads[-1].raw, heads[-1].signature, roots)
    return Check(not problems, "; ".join(problems) or
                 f"{len(heads)} signed heads; the latest {latest.detail}")


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
