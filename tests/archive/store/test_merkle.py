"""The log's Merkle tree is RFC 9162's: the same roots as Certificate Transparency's test
vectors, and proofs that verify, and fail when anything in them changes."""

from __future__ import annotations

import itertools

import pytest

from archive.store.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    verify_consistency,
    verify_inclusion,
)

# The leaves and tree roots of the reference implementation's tests (certificate-transparency).
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243",
                                     "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]


def hashes(n: int) -> list[bytes]:
    return [leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def test_roots_match_the_reference_vectors() -> None:
    assert merkle_root([]) == EMPTY_ROOT
    for size, expected in enumerate(ROOTS, start=1):
        assert merkle_root([leaf_hash(leaf) for leaf in LEAVES[:size]]).hex() == expected


@pytest.mark.parametrize("size", range(1, 34))
def test_every_leaf_has_a_proof_and_only_its_own(size: int) -> None:
    leaves = hashes(size)
    top = merkle_root(leaves)
    for index in range(size):
        proof = inclusion_proof(index, leaves)
        assert verify_inclusion(index, size, leaves[index], proof, top)
        assert not verify_inclusion(index, size, leaf_hash(b"forged"), proof, top)
        if size > 1:
            assert not verify_inclusion((index + 1) % size, size, leaves[index], proof, top)
            assert not verify_inclusion(index, size, leaves[index], proof[:-1], top)


@pytest.mark.parametrize(("first", "second"),
                         [(m, n) for n in range(1, 20) for m in range(1, n + 1)])
def test_a_later_tree_proves_it_extends_an_earlier_one(first: int, second: int) -> None:
    leaves = hashes(second)
    proof = consistency_proof(first, leaves)
    old, new = merkle_root(leaves[:first]), merkle_root(leaves)
    assert verify_consistency(first, second, old, new, proof)
    if first < second:
        rewritten = [leaf_hash(b"rewritten"), *leaves[1:]]
        assert not verify_consistency(first, second, merkle_root(rewritten[:first]), new, proof)
        assert not verify_consistency(first, second, old, merkle_root(rewritten), proof)


def test_a_proof_with_any_hash_changed_fails() -> None:
    leaves = hashes(13)
    proof = consistency_proof(5, leaves)
    for position, flipped in itertools.product(range(len(proof)), (0, 31)):
        bad = list(proof)
        bad[position] = bytes(b ^ (1 if i == flipped else 0) for i, b in enumerate(bad[position]))
        assert not verify_consistency(5, 13, merkle_root(leaves[:5]), merkle_root(leaves), bad)
