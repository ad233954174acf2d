"""The archive's log: every version of every record, as leaves of a Merkle tree whose heads
are signed (in the style of Certificate Transparency, RFC 9162).

A leaf is ``(record id, version, SHA-512 of the version's OCFL inventory)``; the inventory
names the digest of every file the record holds, so the leaf pins all of it. Leaves are only
ever appended, one canonical JSON line each (``log/leaves.jsonl``). A signed tree head
(``log/heads/NNNNNN.json`` and its CMS signature ``.p7s``, made by ``archive.signing``) fixes
the tree's size and root hash, and the length and last hash of the hash-chained logs
(``layout.chained_logs``: the audit log, the checks log). Each head also gets a consistency
proof from the one before it (``log/proofs``), so a party that kept only heads can check that
nothing before them was rewritten. Deleting a record or a version, changing any file, or
rewriting this log, even re-chained, no longer matches a signed head.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.store import merkle
from archive.store.chain import ChainedLog
from archive.store.files import write_atomic
from archive.store.layout import chained_logs, log_dir

LEAVES = "leaves.jsonl"
VERSION = re.compile(r"v[1-9][0-9]{0,8}")  # OCFL version names, as records writes them
FORMAT = "records archive log, v1"


def canonical(value: dict[str, Any]) -> bytes:
    """One byte sequence for a value: sorted keys, no spaces, UTF-8 (what is hashed and
    signed must come out the same on every run, whatever the hash seed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Leaf:
    """One version of one record, as the log holds it, with the committer's promise: a
    signature by the organisation's seal over the version's three fields, made when the
    version was committed. A leaf appended by anyone without the key has none, so no signed
    head will ever cover it (``archive.signing.heads``)."""

    record_id: str
    version: str
    inventory_sha512: str
    promise: str = ""  # base64 RSA PKCS#1 v1.5 / SHA-256 signature over ``core()``
    signer: str = ""  # SHA-256 of the sealing certificate (DER)

    def core(self) -> bytes:
        """What the promise signs: the version's identity and its inventory's digest."""
        return canonical({"record_id": self.record_id, "version": self.version,
                          "inventory_sha512": self.inventory_sha512})

    def encode(self) -> bytes:
        if not self.promise:
            return self.core()
        return canonical({"record_id": self.record_id, "version": self.version,
                          "inventory_sha512": self.inventory_sha512,
                          "promise": self.promise, "signer": self.signer})

    def same_version(self, other: Leaf) -> bool:
        return self.core() == other.core()

    @property
    def hash(self) -> bytes:
        return merkle.leaf_hash(self.encode())

    @classmethod
    def decode(cls, line: bytes) -> Leaf:
        """The leaf a line holds; ValueError unless it is exactly a leaf's canonical form."""
        data = json.loads(line)
        if not isinstance(data, dict) or set(data) not in (CORE, CORE | {"promise", "signer"}):
            raise ValueError("not a leaf")
        if not all(isinstance(v, str) for v in data.values()):
            raise ValueError("not a leaf")
        leaf = cls(**data)
        if not (VERSION.fullmatch(leaf.version) and _hex(leaf.inventory_sha512, 128)):
            raise ValueError("not a version and an inventory digest")
        if leaf.encode() != line:
            raise ValueError("not in canonical form")
        return leaf


CORE = {"record_id", "version", "inventory_sha512"}


@dataclass(frozen=True)
class ChainHead:
    """How long a hash-chained log was, and the hash of its last line, when a head was made."""

    entries: int
    head: str


@dataclass(frozen=True)
class TreeHead:
    """What a signature vouches for: the tree of the first ``tree_size`` leaves, and the
    state of the chained logs, at ``time``."""

    number: int
    tree_size: int
    root: str  # hex SHA-256, RFC 9162's Merkle tree hash
    time: str
    chains: dict[str, ChainHead] = field(default_factory=dict)

    def encode(self) -> bytes:
        return canonical({
            "format": FORMAT, "number": self.number, "tree_size": self.tree_size,
            "root_sha256": self.root, "time": self.time,
            "chains": {name: {"entries": c.entries, "head": c.head}
                       for name, c in self.chains.items()}})

    @classmethod
    def decode(cls, raw: bytes) -> TreeHead:
        """The head ``raw`` holds; ValueError unless it is exactly a head's canonical form
        (every field of its type: a file that merely parses is not a head)."""
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a tree head of {FORMAT!r}")
        number, size, chains = data.get("number"), data.get("tree_size"), data.get("chains")
        if not (_count(number) and number > 0 and _count(size) and isinstance(chains, dict)
                and _hex(data.get("root_sha256"), 64) and isinstance(data.get("time"), str)):
            raise ValueError("a field of the head is missing or of the wrong kind")
        heads = {}
        for name, chain in chains.items():
            if not (isinstance(chain, dict) and _count(chain.get("entries"))
                    and _hex(chain.get("head"), 64)):
                raise ValueError(f"the head's {name!r} chain is malformed")
            heads[name] = ChainHead(chain["entries"], chain["head"])
        head = cls(number, size, data["root_sha256"], data["time"], heads)
        if head.encode() != raw:
            raise ValueError("not in canonical form")
        return head


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _hex(value: object, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and \
        all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class StoredHead:
    """A signed tree head as the log folder holds it: the signed bytes and the signature."""

    head: TreeHead
    raw: bytes
    signature: bytes
    path: Path


@dataclass
class LogContents:
    """The leaves as read, and what could not be read (one problem per damaged line)."""

    leaves: list[Leaf] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def hashes(self) -> list[bytes]:
        return [leaf.hash for leaf in self.leaves]

    def latest(self) -> dict[str, tuple[int, Leaf]]:
        """Each record's last leaf, with its index."""
        return {leaf.record_id: (index, leaf) for index, leaf in enumerate(self.leaves)}


@dataclass(frozen=True)
class ArchiveLog:
    """The log of one RECORDS_HOME."""

    home: Path

    @property
    def folder(self) -> Path:
        return log_dir(self.home)

    @property
    def leaves_path(self) -> Path:
        return self.folder / LEAVES

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise writers of the log (several processes may commit records at once)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, leaf: Leaf) -> None:
        """Log a version just committed (one line appended: the cost does not grow with the
        log)."""
        with self.locked(), self.leaves_path.open("ab") as handle:
            handle.write(leaf.encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())

    def ensure(self, leaf: Leaf) -> None:
        """Log a version unless it is already the record's last leaf: finishing a commit a
        crash interrupted between its rename and its log entry."""
        with self.locked():
            latest = self.read().latest().get(leaf.record_id)
            if latest and latest[1].same_version(leaf):
                return
            with self.leaves_path.open("ab") as handle:
                handle.write(leaf.encode() + b"\n")
                handle.flush()
                os.fsync(handle.fileno())

    def read(self) -> LogContents:
        contents = LogContents()
        if not self.leaves_path.is_file():
            return contents
        for number, line in enumerate(self.leaves_path.read_bytes().splitlines(), start=1):
            try:
                contents.leaves.append(Leaf.decode(line))
            except (ValueError, TypeError):
                contents.problems.append(f"{LEAVES} line {number} is damaged: not a leaf")
        return contents

    def heads(self) -> tuple[list[StoredHead], list[str]]:
        """The signed heads, oldest first, and what is wrong with any that cannot be read."""
        found, problems = [], []
        for path in sorted((self.folder / "heads").glob("*.json")):
            try:
                raw = path.read_bytes()
                head = TreeHead.decode(raw)
                signature = path.with_suffix(".p7s").read_bytes()
            except (OSError, ValueError, KeyError, TypeError) as exc:
                problems.append(f"head {path.name} cannot be read ({type(exc).__name__})")
                continue
            found.append(StoredHead(head, raw, signature, path))
        return found, problems

    def draft_head(self) -> TreeHead:
        """The head to sign now: the whole tree, and the chained logs as they are."""
        stored, _ = self.heads()
        number = stored[-1].head.number + 1 if stored else 1
        contents = self.read()
        chains = {}
        for name, path in chained_logs(self.home).items():
            lines = ChainedLog(path).lines()
            chains[name] = ChainHead(len(lines), ChainedLog(path).head_at(len(lines)) or "")
        return TreeHead(number, len(contents.leaves), merkle.merkle_root(contents.hashes).hex(),
                        datetime.now(UTC).isoformat(timespec="seconds"), chains)

    def save_head(self, head: TreeHead, signature: bytes) -> Path:
        """Keep a signed head, and the consistency proof from the head before it."""
        path = self.folder / "heads" / f"{head.number:06d}.json"
        stored, _ = self.heads()
        previous = stored[-1].head if stored else None
        write_atomic(path.with_suffix(".p7s"), signature)
        write_atomic(path, head.encode())
        if previous is not None and 0 < previous.tree_size <= head.tree_size:
            hashes = self.read().hashes[: head.tree_size]
            proof = merkle.consistency_proof(previous.tree_size, hashes)
            write_atomic(self.folder / "proofs" / f"{previous.number:06d}-{head.number:06d}.json",
                         canonical({"first": previous.tree_size, "second": head.tree_size,
                                    "proof": [p.hex() for p in proof]}))
        return path
