"""An RFC 6962 (Certificate Transparency) Merkle tree: pure, over leaf hashes.

The tree of the evidence log (storage/evidence_log.py). A leaf's hash is
``SHA-256(0x00 || data)``, an inner node's ``SHA-256(0x01 || left || right)``;
the tree over ``n`` leaves splits at the largest power of two below ``n``
(RFC 6962 §2.1; RFC 9162 §2.1 gives the same tree and the verification
algorithms used here). Everything works on leaf *hashes*, so a caller that keeps
only the hashes (the database does) can compute roots and proofs, and a
verifier holding one item's bytes, its proof and a signed root needs nothing
else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not lead to the root it is checked against."""


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf holding ``data``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node over two subtrees."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of the leaf hashes ``leaves`` (MTH)."""
    return roots_at(leaves, [len(leaves)])[len(leaves)]


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (PATH)."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")
    return _path(index, leaves)


def _path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, d[:k]), root(d[k:])]
    return [*_path(m - k, d[k:]), root(d[:k])]


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The proof that the tree of the first ``old_size`` leaves is a prefix of
    the tree of all ``leaves`` (PROOF)."""
    if not 0 <= old_size <= len(leaves):
        raise IndexError(f"size {old_size} is not a prefix of {len(leaves)}")
    if old_size in (0, len(leaves)):
        return []
    return _subproof(old_size, leaves, True)


def _subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if whole else [root(d)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, d[:k], whole), root(d[k:])]
    return [*_subproof(m - k, d[k:], False), root(d[:k])]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Check that leaf hash ``leaf`` sits at ``index`` of the tree of ``size``
    leaves whose root is ``expected_root`` (RFC 9162 §2.1.3.2); raise ProofError."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != expected_root:
        raise ProofError("the inclusion proof does not lead to the checkpoint's root")


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that the tree (``old_size``, ``old_root``) is a prefix of
    (``new_size``, ``new_root``) (RFC 9162 §2.1.4.2); raise ProofError."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"size {old_size} cannot precede size {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("equal sizes with different roots")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != old_root:
        raise ProofError("the consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("the consistency proof does not lead to the new root")


def roots_at(leaves: Sequence[bytes], sizes: Sequence[int]) -> dict[int, bytes]:
    """The roots of the trees of the first ``size`` leaves, for every size in
    ``sizes`` (sizes beyond ``len(leaves)`` are left out), in one pass."""
    wanted = set(sizes)
    out: dict[int, bytes] = {}
    if 0 in wanted:
        out[0] = EMPTY_ROOT
    stack: list[tuple[int, bytes]] = []
    for n, h in enumerate(leaves, start=1):
        size, cur = 1, h
        while stack and stack[-1][0] == size:
            _, left = stack.pop()
            cur = node_hash(left, cur)
            size <<= 1
        stack.append((size, cur))
        if n in wanted:
            top = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                top = node_hash(left, top)
            out[n] = top
    return out


class Tree:
    """Every level of the tree over ``leaves``, for many proofs at O(log n) each.

    The RFC 6962 tree is the one built by hashing neighbours pairwise, level by
    level, and carrying an odd last node up unchanged.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.size = len(leaves)
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            low = self.levels[-1]
            up = [node_hash(low[i], low[i + 1]) for i in range(0, len(low) - 1, 2)]
            if len(low) % 2:
                up.append(low[-1])
            self.levels.append(up)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0] if self.size else EMPTY_ROOT

    def proof(self, index: int) -> list[bytes]:
        """The audit path of leaf ``index`` (the same as :func:`inclusion_proof`)."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is not in a tree of {self.size}")
        out: list[bytes] = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                out.append(level[sibling])
            index >>= 1
        return out
