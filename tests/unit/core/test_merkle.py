"""core.merkle against the Certificate Transparency reference vectors.

The leaves, roots and proofs are the ones the CT and Trillian implementations
test with (RFC 6962 hashing: 0x00 leaf, 0x01 node prefixes).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import merkle

LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, path)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
HASHES = [merkle.leaf_hash(d) for d in LEAVES]


def test_the_empty_tree_has_the_hash_of_nothing() -> None:
    assert merkle.root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_certificate_transparency_vectors(size: int) -> None:
    assert merkle.root(HASHES[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_vectors_and_verify(
    index: int, size: int, path: list[str]
) -> None:
    proof = merkle.inclusion_proof(index, HASHES[:size])
    assert [p.hex() for p in proof] == path
    merkle.verify_inclusion(
        HASHES[index], index, size, proof, bytes.fromhex(ROOTS[size - 1])
    )


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_vectors_and_verify(
    old: int, new: int, path: list[str]
) -> None:
    proof = merkle.consistency_proof(old, HASHES[:new])
    assert [p.hex() for p in proof] == path
    merkle.verify_consistency(
        old, new, bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1]), proof
    )


def test_every_inclusion_proof_of_small_trees_verifies_and_no_other_leaf_does() -> None:
    for size in range(1, 20):
        leaves = [merkle.leaf_hash(bytes([i])) for i in range(size)]
        top = merkle.root(leaves)
        for index in range(size):
            proof = merkle.inclusion_proof(index, leaves)
            merkle.verify_inclusion(leaves[index], index, size, proof, top)
            with pytest.raises(merkle.ProofError):
                merkle.verify_inclusion(merkle.leaf_hash(b"x"), index, size, proof, top)
            if size > 1:
                with pytest.raises(merkle.ProofError):
                    merkle.verify_inclusion(
                        leaves[index], (index + 1) % size, size, proof, top
                    )


def test_every_consistency_proof_of_small_trees_verifies() -> None:
    for old, new in itertools.combinations_with_replacement(range(1, 18), 2):
        leaves = [merkle.leaf_hash(bytes([i])) for i in range(new)]
        proof = merkle.consistency_proof(old, leaves)
        merkle.verify_consistency(
            old, new, merkle.root(leaves[:old]), merkle.root(leaves), proof
        )


@given(st.integers(2, 40), st.data())
def test_a_rewritten_history_fails_the_consistency_proof(
    new: int, data: st.DataObject
) -> None:
    old = data.draw(st.integers(1, new - 1))
    changed = data.draw(st.integers(0, old - 1))
    leaves = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(new)]
    forged = list(leaves)
    forged[changed] = merkle.leaf_hash(b"forged")
    proof = merkle.consistency_proof(old, forged)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(
            old, new, merkle.root(leaves[:old]), merkle.root(forged), proof
        )


def test_roots_of_every_prefix_in_one_pass_equal_the_roots_of_each_prefix() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(37)]
    sizes = [0, 1, 2, 3, 7, 8, 9, 16, 31, 37, 40]
    got = merkle.roots_at(leaves, sizes)
    assert got == {s: merkle.root(leaves[:s]) for s in sizes if s <= len(leaves)}


def test_the_level_tree_gives_the_same_root_and_proofs_as_the_definition() -> None:
    for size in range(1, 40):
        leaves = [merkle.leaf_hash(bytes([i])) for i in range(size)]
        tree = merkle.Tree(leaves)
        assert tree.root == merkle.root(leaves)
        for index in range(size):
            assert tree.proof(index) == merkle.inclusion_proof(index, leaves)
