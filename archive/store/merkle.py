"""Merkle trees as Certificate Transparency builds them (RFC 9162, section 2.1).

The archive's log is a list of leaves; its tree head (size and root hash) is signed. From a
signed head anyone can check that a leaf is in the tree (an inclusion proof: log2(n) hashes)
and that a later head extends an earlier one without changing it (a consistency proof). The
hashing keeps leaves and nodes apart (a 0x00 or 0x01 prefix), so no node can pass for a leaf.
Plain functions over bytes: the independent verifier (``tools/verify_copy.py``) does the same
in its own code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of leaves given as their leaf hashes."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    # Bottom-up, pairing from the left and carrying an odd last node up: the same tree as the
    # RFC's recursive split at the largest power of two, without recursion.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]): the hashes that lead from leaf ``index`` to the root."""
    if not 0 <= index < len(hashes):
        raise ValueError(f"leaf {index} is not in a tree of {len(hashes)}")
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if index < k:
        return [*inclusion_proof(index, hashes[:k]), merkle_root(hashes[k:])]
    return [*inclusion_proof(index - k, hashes[k:]), merkle_root(hashes[:k])]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     expected_root: bytes) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` of a tree of ``size``
    leaves whose root is ``expected_root`` (RFC 9162, 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == expected_root


def consistency_proof(first: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(first, D[n]): what shows the tree of the first ``first`` leaves is a prefix."""
    if not 0 < first <= len(hashes):
        raise ValueError(f"no consistency proof from {first} to {len(hashes)} leaves")
    return _subproof(first, hashes, True)


def _subproof(m: int, hashes: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [merkle_root(hashes)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, hashes[:k], complete), merkle_root(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], False), merkle_root(hashes[:k])]


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree of ``second`` leaves extends the one of ``first``
    (RFC 9162, 2.1.4.2)."""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the first root is the start
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0
