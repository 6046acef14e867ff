"""The archive log's tree math against RFC 9162: hand-computed small trees, every size 1..64, altered proofs."""

from __future__ import annotations

import hashlib

import pytest

from yiwang.licences import merkle
from yiwang.licences.merkle import ListSource


def _h(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def _entries(n: int) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(n)]


def _reference_mth(entries: list[bytes]) -> bytes:
    # RFC 9162 §2.1.1 written out literally, recursion and all.
    n = len(entries)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + _reference_mth(entries[:k]) + _reference_mth(entries[k:]))


def _reference_path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*_reference_path(m, entries[:k]), _reference_mth(entries[k:])]
    return [*_reference_path(m - k, entries[k:]), _reference_mth(entries[:k])]


def _reference_subproof(m: int, entries: list[bytes], whole: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if whole else [_reference_mth(entries)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*_reference_subproof(m, entries[:k], whole), _reference_mth(entries[k:])]
    return [*_reference_subproof(m - k, entries[k:], False), _reference_mth(entries[:k])]


def _source(entries: list[bytes]) -> ListSource:
    return ListSource([merkle.leaf_hash(e) for e in entries])


def test_hashes_use_sm3_with_the_rfc_9162_prefixes() -> None:
    assert merkle.leaf_hash(b"a") == _h(b"\x00a")
    assert merkle.node_hash(b"L" * 32, b"R" * 32) == _h(b"\x01" + b"L" * 32 + b"R" * 32)
    assert _h(b"") == merkle.EMPTY_ROOT
    # The published SM3 test vector (GB/T 32905 appendix A): "abc".
    assert merkle.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_a_tree_of_three_by_hand() -> None:
    a, b, c = (merkle.leaf_hash(x) for x in (b"a", b"b", b"c"))
    ab = _h(b"\x01" + a + b)
    root = _h(b"\x01" + ab + c)
    source = ListSource([a, b, c])
    assert merkle.root_hash(source, 3) == root
    assert merkle.inclusion_proof(source, 0, 3) == [b, c]
    assert merkle.inclusion_proof(source, 2, 3) == [ab]
    assert merkle.consistency_proof(source, 2, 3) == [c]
    assert merkle.consistency_proof(source, 1, 3) == [b, c]
    assert merkle.verify_inclusion(b"c", 2, 3, [ab], root)
    assert merkle.verify_consistency(2, 3, ab, root, [c])


def test_a_tree_of_seven_by_hand() -> None:
    # The RFC's example tree (§2.1.5): leaves d0..d6; the proof for d3 is [c, g, l] in its names.
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(7)]
    n = lambda x, y: _h(b"\x01" + x + y)  # noqa: E731
    g, h = n(leaves[0], leaves[1]), n(leaves[2], leaves[3])
    i, j = n(leaves[4], leaves[5]), leaves[6]
    k, l_ = n(g, h), n(i, j)
    root = n(k, l_)
    source = ListSource(leaves)
    assert merkle.root_hash(source, 7) == root
    assert merkle.inclusion_proof(source, 3, 7) == [leaves[2], g, l_]
    assert merkle.consistency_proof(source, 3, 7) == [leaves[2], leaves[3], g, l_]
    assert merkle.consistency_proof(source, 4, 7) == [l_]
    assert merkle.consistency_proof(source, 6, 7) == [i, j, k]


@pytest.mark.parametrize("n", range(1, 65))
def test_every_proof_matches_the_rfc_recursion_and_verifies(n: int) -> None:
    entries = _entries(n)
    source = _source(entries)
    root = _reference_mth(entries)
    assert merkle.root_hash(source, n) == root
    for m in range(n):
        proof = merkle.inclusion_proof(source, m, n)
        assert proof == _reference_path(m, entries)
        assert merkle.verify_inclusion(entries[m], m, n, proof, root)
        assert not merkle.verify_inclusion(entries[m] + b"x", m, n, proof, root)
        if n > 1:
            assert not merkle.verify_inclusion(entries[m], (m + 1) % n, n, proof, root)
    for first in range(1, n + 1):
        proof = merkle.consistency_proof(source, first, n)
        assert proof == (_reference_subproof(first, entries, True) if first < n else [])
        first_root = _reference_mth(entries[:first])
        assert merkle.verify_consistency(first, n, first_root, root, proof)
        if first < n:
            assert not merkle.verify_consistency(first, n, first_root, _h(b"other"), proof)
            assert not merkle.verify_consistency(first, n, _h(b"other"), root, proof)
            assert not merkle.verify_consistency(first, n, first_root, root, proof[:-1])


@pytest.mark.parametrize("n", [2, 5, 8, 13, 64])
def test_any_changed_byte_of_a_proof_fails(n: int) -> None:
    entries = _entries(n)
    source = _source(entries)
    root = merkle.root_hash(source, n)
    for m in range(n):
        proof = merkle.inclusion_proof(source, m, n)
        for position, node in enumerate(proof):
            for byte in (0, 31):
                altered = bytearray(node)
                altered[byte] ^= 0x01
                changed = [*proof[:position], bytes(altered), *proof[position + 1 :]]
                assert not merkle.verify_inclusion(entries[m], m, n, changed, root)
        assert not merkle.verify_inclusion(entries[m], m, n, [*proof, proof[0] if proof else root], root)
    first = max(1, n // 2 - 1)
    proof = merkle.consistency_proof(source, first, n)
    first_root = merkle.root_hash(source, first)
    for position, node in enumerate(proof):
        altered = bytearray(node)
        altered[7] ^= 0x80
        changed = [*proof[:position], bytes(altered), *proof[position + 1 :]]
        assert not merkle.verify_consistency(first, n, first_root, root, changed)


def test_edge_cases_of_the_verifiers() -> None:
    source = _source(_entries(4))
    root = merkle.root_hash(source, 4)
    assert merkle.verify_consistency(0, 4, merkle.EMPTY_ROOT, root, [])
    assert not merkle.verify_consistency(0, 4, root, root, [])
    assert merkle.verify_consistency(4, 4, root, root, [])
    assert not merkle.verify_consistency(4, 4, root, root, [root])
    assert not merkle.verify_consistency(3, 2, root, root, [root])
    assert not merkle.verify_consistency(2, 4, root, root, [])
    assert not merkle.verify_inclusion(b"entry-0", -1, 4, [], root)
    assert not merkle.verify_inclusion(b"entry-0", 0, 4, [b"short"], root)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(source, 4, 4)
    with pytest.raises(ValueError):
        merkle.consistency_proof(source, 5, 4)
