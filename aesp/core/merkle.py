"""RFC 6962 / RFC 9162 Merkle trees: hashing, incremental trees, inclusion and consistency proofs.

Why our own: the audit log (DESIGN §8) must be checkable by anyone with a standard tool, so the
hashing is exactly RFC 9162 §2.1.1: ``leaf = SHA-256(0x00 || data)``,
``node = SHA-256(0x01 || left || right)``, the empty tree hashes to ``SHA-256("")``, and a tree of
``n > 1`` leaves splits at the largest power of two smaller than ``n``. The code is small, pure
and dependency-free (``hashlib`` only), so the offline verifier and the Host share it.

Two trees, for two memory budgets:

* :class:`CompactTree` keeps only the "frontier" (the roots of the perfect subtrees that make up
  the tree, at most log2(n)+1 hashes): O(log n) append, the current root, nothing else. The
  offline verifier uses it, so verifying a huge log needs almost no memory.
* :class:`MerkleTree` also keeps every complete node, level by level (64 bytes per leaf in all:
  32 for the leaf, 32 for the levels above), so any old root and any proof are O(log n).

Proof verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) step by
step and raises :class:`ProofError` naming the failing fact; it never returns a bare bool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactTree",
    "MerkleTree",
    "ProofError",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256
HASH_SIZE = 32  # SHA-256
EMPTY_ROOT = _sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()


class ProofError(ValueError):
    """A proof does not prove what it claims; the message names the failing fact."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one leaf (RFC 9162 §2.1.1)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactTree:
    """An append-only tree that keeps only its frontier: O(log n) memory, O(1) amortised append.

    ``size`` is public and read-only by convention; the verifier reads it on every line.
    """

    __slots__ = ("_frontier", "size")

    def __init__(self) -> None:
        self._frontier: list[bytes] = []  # perfect-subtree roots, largest (leftmost) first
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Add a leaf *hash* (not data): merge equal-sized subtrees like a binary counter."""
        frontier = self._frontier
        n = self.size
        h = leaf
        while n & 1:
            h = _sha256(b"\x01" + frontier.pop() + h).digest()
            n >>= 1
        frontier.append(h)
        self.size += 1

    def root(self) -> bytes:
        """MTH of every leaf so far: the frontier folded from the right."""
        frontier = self._frontier
        if not frontier:
            return EMPTY_ROOT
        r = frontier[-1]
        for left in reversed(frontier[:-1]):
            r = _sha256(b"\x01" + left + r).digest()
        return r


class MerkleTree:
    """An append-only tree that keeps every complete node, for old roots and proofs.

    ``levels[0]`` holds the leaf hashes and ``levels[j]`` the roots of the aligned perfect
    subtrees of ``2**j`` leaves, each as one ``bytearray`` of 32-byte hashes. Every left child
    the RFC recursion meets is such an aligned perfect subtree, so a subtree hash costs
    O(log n) node hashes instead of O(n). Memory: 2n hashes, i.e. 64 bytes per leaf.

    Not thread-safe: the audit log guards it with its own lock.
    """

    __slots__ = ("_levels", "size")

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash; record each perfect subtree it completes."""
        levels = self._levels
        levels[0] += leaf
        h = leaf
        n = self.size
        level = 0
        while n & 1:
            row = levels[level]
            h = _sha256(b"\x01" + row[-64:-32] + h).digest()
            level += 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += h
            n >>= 1
        self.size += 1

    def leaf(self, index: int) -> bytes:
        """The hash of leaf ``index``.

        Raises:
            IndexError: No such leaf.
        """
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is outside a tree of {self.size} leaves")
        return bytes(self._levels[0][index * 32 : index * 32 + 32])

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all of them).

        Raises:
            ValueError: ``size`` is negative or larger than the tree.
        """
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 ``PATH(index, D[0:size])``, deepest sibling first.

        Raises:
            ValueError: ``size`` exceeds the tree or ``index`` is not below ``size``.
        """
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of size {size}")
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:  # walk down from the root, collecting the other side of each split
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._subtree(lo, lo + k))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 ``PROOF(old_size, D[0:new_size])``; empty when a size is 0 or equal.

        Raises:
            ValueError: The sizes are not ``0 <= old_size <= new_size <= size``.
        """
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        lo, hi, m, complete = 0, new_size, old_size, True
        while m != hi - lo:  # SUBPROOF(m, D[lo:hi], complete), iteratively
            k = _split(hi - lo)
            if m <= k:
                proof.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._subtree(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        if not complete:
            proof.append(self._subtree(lo, hi))
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is outside a tree of {self.size} leaves")

    def _subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for ``hi <= size``, from stored perfect subtrees where possible."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:  # aligned perfect subtree: stored
            level = n.bit_length() - 1
            at = (lo // n) * 32
            return bytes(self._levels[level][at : at + 32])
        k = _split(n)
        return _sha256(b"\x01" + self._subtree(lo, lo + k) + self._subtree(lo + k, hi)).digest()


def _check_hashes(name: str, *values: bytes) -> None:
    for value in values:
        if len(value) != HASH_SIZE:
            raise ProofError(f"{name} has a {len(value)}-byte hash, not {HASH_SIZE} bytes")


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2, with the step numbers of the RFC in the comments.

    Raises:
        ProofError: The proof does not verify (the message says which check failed).
    """
    _check_hashes("the inclusion proof", leaf, root, *path)
    if not 0 <= index < size:  # (1)
        raise ProofError(f"leaf index {index} is not below the tree size {size}")
    fn, sn, r = index, size - 1, leaf  # (2), (3)
    for p in path:  # (4)
        if sn == 0:  # (4a)
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:  # (4b)
            r = node_hash(p, r)
            while fn and not fn & 1:  # (4b.ii)
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # (4c)
        sn >>= 1
    if sn != 0:  # (5)
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("the inclusion proof leads to a different root hash")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` with ``old_root`` is a prefix of ``new_root``'s tree.

    RFC 9162 §2.1.4.2, with its step numbers. Two degenerate cases the RFC leaves implicit: an
    empty old tree is a prefix of every tree (the proof must be empty), and equal sizes need
    equal roots (the proof must be empty).

    Raises:
        ProofError: The proof does not verify (the message says which check failed).
    """
    _check_hashes("the consistency proof", old_root, new_root, *proof)
    if not 0 <= old_size <= new_size:
        raise ProofError(f"size {old_size} cannot be a prefix of size {new_size}")
    if old_size in (0, new_size):
        if proof:
            raise ProofError("a consistency proof between these sizes must be empty")
        if old_size == new_size and old_root != new_root:
            raise ProofError("two trees of the same size have different root hashes")
        return
    if not proof:  # (1)
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # (2): the old tree is a perfect subtree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # (3)
    while fn & 1:  # (4)
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # (5)
    for c in path[1:]:  # (6)
        if sn == 0:  # (6a)
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:  # (6b)
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:  # (6b.iii)
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # (6c)
        sn >>= 1
    if sn != 0:  # (7)
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError("the consistency proof does not lead to the old root hash")
    if sr != new_root:
        raise ProofError("the consistency proof does not lead to the new root hash")
