"""A naive RFC 9162 reference for the audit tests: the RFC's recursive definitions, literally.

Nothing here is shared with :mod:`aesp.core.merkle`, so a wrong split rule, prefix or proof
order there cannot make the tests that compare against this pass.
"""

from __future__ import annotations

import hashlib


def H(data: bytes) -> bytes:  # noqa: N802 - the RFC's name
    """SHA-256."""
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over leaf *data*."""
    return mth_of_hashes([H(b"\x00" + x) for x in d])


def mth_of_hashes(hashes: list[bytes]) -> bytes:
    """MTH when the leaf hashes are already known (as a log file gives them)."""
    n = len(hashes)
    if n == 0:
        return H(b"")
    if n == 1:
        return hashes[0]
    k = _k(n)
    return H(b"\x01" + mth_of_hashes(hashes[:k]) + mth_of_hashes(hashes[k:]))


def path(m: int, hashes: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) over leaf hashes."""
    n = len(hashes)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return path(m, hashes[:k]) + [mth_of_hashes(hashes[k:])]
    return path(m - k, hashes[k:]) + [mth_of_hashes(hashes[:k])]


def subproof(m: int, hashes: list[bytes], b: bool = True) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b) over leaf hashes (PROOF when ``b``)."""
    n = len(hashes)
    if m == n:
        return [] if b else [mth_of_hashes(hashes)]
    k = _k(n)
    if m <= k:
        return subproof(m, hashes[:k], b) + [mth_of_hashes(hashes[k:])]
    return subproof(m - k, hashes[k:], False) + [mth_of_hashes(hashes[:k])]


def root_from_path(leaf: bytes, m: int, n: int, proof: list[bytes]) -> bytes:
    """The root an inclusion proof leads to, by undoing PATH's recursion (no bit tricks)."""
    if n == 1:
        assert not proof, "a one-leaf tree has an empty path"
        return leaf
    k = _k(n)
    if m < k:
        return H(b"\x01" + root_from_path(leaf, m, k, proof[:-1]) + proof[-1])
    return H(b"\x01" + proof[-1] + root_from_path(leaf, m - k, n - k, proof[:-1]))
