"""RFC 6962/9162 Merkle hashing and proofs, checked against a naive reference written here.

The reference (``_rfc6962``: ``mth``, ``path``, ``subproof``) is a literal transcription of the
RFC's recursive definitions (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1) with no shared code, so a
wrong split rule or prefix in :mod:`aesp.core.merkle` cannot make its own tests pass. The published vectors are the
RFC 6962 test data of transparency-dev/merkle (also in the Certificate Transparency sources).
"""

from __future__ import annotations

import pytest
from _rfc6962 import H, mth, path, subproof
from hypothesis import given, settings
from hypothesis import strategies as st

from aesp.core.merkle import (
    EMPTY_ROOT,
    CompactTree,
    MerkleTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)


def data(n: int) -> list[bytes]:
    return [f"leaf {i}".encode() for i in range(n)]


def grown(d: list[bytes]) -> tuple[MerkleTree, CompactTree]:
    full, compact = MerkleTree(), CompactTree()
    for item in d:
        full.append(leaf_hash(item))
        compact.append(leaf_hash(item))
    return full, compact


def test_every_size_1_to_64_matches_the_rfc_definitions() -> None:
    d = data(64)
    hashes = [H(b"\x00" + x) for x in d]
    full = MerkleTree()
    compact = CompactTree()
    assert full.root() == compact.root() == EMPTY_ROOT == mth([])
    for n in range(1, 65):
        full.append(leaf_hash(d[n - 1]))
        compact.append(leaf_hash(d[n - 1]))
        assert compact.root() == mth(d[:n]), n
        for size in range(n + 1):  # every old root stays available
            assert full.root(size) == mth(d[:size]), (n, size)
    for n in range(1, 65):
        root = mth(d[:n])
        for m in range(n):
            proof = full.inclusion_proof(m, n)
            assert proof == path(m, hashes[:n]), (m, n)
            verify_inclusion(leaf_hash(d[m]), m, n, proof, root)
        for m in range(1, n + 1):
            proof = full.consistency_proof(m, n)
            assert proof == subproof(m, hashes[:n]), (m, n)
            verify_consistency(m, n, mth(d[:m]), root, proof)


@settings(max_examples=25, deadline=None)
@given(st.integers(65, 3000), st.data())
def test_random_larger_trees_match_the_rfc_definitions(n: int, draw: st.DataObject) -> None:
    d = data(n)
    hashes = [H(b"\x00" + x) for x in d]
    full, compact = grown(d)
    root = mth(d)
    assert full.root() == compact.root() == root
    m = draw.draw(st.integers(0, n - 1))
    assert full.inclusion_proof(m, n) == path(m, hashes)
    verify_inclusion(leaf_hash(d[m]), m, n, full.inclusion_proof(m, n), root)
    old = draw.draw(st.integers(1, n))
    expected = subproof(old, hashes)
    assert full.consistency_proof(old, n) == expected
    verify_consistency(old, n, mth(d[:old]), root, expected)


# RFC 6962 test data (transparency-dev/merkle testonly): leaves, then roots of sizes 0..8.
VECTOR_LEAVES = [
    bytes.fromhex(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
VECTOR_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
VECTOR_INCLUSION = [  # (index, size, path)
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
VECTOR_CONSISTENCY = [  # (old, new, proof)
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


def test_the_rfc_6962_test_vectors() -> None:
    full, _ = grown(VECTOR_LEAVES)
    assert [full.root(n).hex() for n in range(9)] == VECTOR_ROOTS
    for index, size, expected in VECTOR_INCLUSION:
        assert [h.hex() for h in full.inclusion_proof(index, size)] == expected
    for old, new, expected in VECTOR_CONSISTENCY:
        assert [h.hex() for h in full.consistency_proof(old, new)] == expected
        verify_consistency(
            old,
            new,
            bytes.fromhex(VECTOR_ROOTS[old]),
            bytes.fromhex(VECTOR_ROOTS[new]),
            [bytes.fromhex(h) for h in expected],
        )


def test_a_mangled_inclusion_proof_is_refused_with_the_failing_fact() -> None:
    d = data(13)
    full, _ = grown(d)
    root, leaf = full.root(), leaf_hash(d[5])
    proof = full.inclusion_proof(5, 13)
    verify_inclusion(leaf, 5, 13, proof, root)
    flipped = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
    with pytest.raises(ProofError, match="different root"):
        verify_inclusion(leaf, 5, 13, flipped, root)
    with pytest.raises(ProofError, match="different root"):
        verify_inclusion(leaf, 4, 13, proof, root)
    with pytest.raises(ProofError, match="shorter"):
        verify_inclusion(leaf, 5, 13, proof[:-1], root)
    with pytest.raises(ProofError, match="longer"):
        verify_inclusion(leaf, 5, 13, [*proof, root], root)
    with pytest.raises(ProofError, match="not below"):
        verify_inclusion(leaf, 13, 13, proof, root)
    with pytest.raises(ProofError, match="31-byte"):
        verify_inclusion(leaf[:31], 5, 13, proof, root)


def test_a_mangled_consistency_proof_is_refused_with_the_failing_fact() -> None:
    d = data(21)
    full, _ = grown(d)
    old, new = full.root(6), full.root(21)
    proof = full.consistency_proof(6, 21)
    verify_consistency(6, 21, old, new, proof)
    with pytest.raises(ProofError, match="old root"):
        verify_consistency(6, 21, full.root(5), new, proof)
    with pytest.raises(ProofError, match="new root"):
        verify_consistency(6, 21, old, full.root(20), proof)
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(6, 21, old, new, [])
    with pytest.raises(ProofError, match="shorter"):
        verify_consistency(6, 21, old, new, proof[:-1])
    with pytest.raises(ProofError, match="prefix"):
        verify_consistency(21, 6, new, old, proof)
    with pytest.raises(ProofError, match="same size"):
        verify_consistency(6, 6, old, new, [])
    verify_consistency(0, 21, EMPTY_ROOT, new, [])  # the empty tree is everyone's prefix
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(0, 21, EMPTY_ROOT, new, [old])


def test_proofs_outside_the_tree_are_refused() -> None:
    full, _ = grown(data(5))
    with pytest.raises(ValueError, match="outside a tree of 5"):
        full.inclusion_proof(0, 6)
    with pytest.raises(ValueError, match="not in a tree of size 3"):
        full.inclusion_proof(3, 3)
    with pytest.raises(ValueError, match="from size 4 to size 3"):
        full.consistency_proof(4, 3)
    with pytest.raises(IndexError):
        full.leaf(5)
    assert full.leaf(4) == leaf_hash(data(5)[4])
