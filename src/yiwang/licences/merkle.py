"""The tree math of the e-archive's append-only log: RFC 9162 (Certificate Transparency v2) with SM3.

The tree's shape, the domain-separation prefixes and the proof algorithms are
RFC 9162's (§2.1.1 Merkle Tree Hash, §2.1.3 inclusion, §2.1.4 consistency);
only the hash differs: SM3 (GB/T 32905) instead of SHA-256, because the
platform's seals, signatures and digests are all 商用密码 and an auditor
checks one algorithm family (docs/adr/0018-e-archive.md)::

    leaf hash = SM3(0x00 || entry)
    node hash = SM3(0x01 || left || right)
    empty tree = SM3("")

Producers of proofs read node hashes through a :class:`NodeSource`, which
only has to answer for *complete, aligned* subtrees (level ``k``, index
``i`` covers leaves ``[i·2^k, (i+1)·2^k)``); the hash of any other range the
algorithms need lies on the right edge of the tree and is folded here from
at most ``log2(n)`` such nodes. So a proof costs O(log n) reads whatever
the size of the log, and nothing is loaded whole.

The verifiers (:func:`verify_inclusion`, :func:`verify_consistency`) need
only the proof, the leaf (or the two roots) and the tree sizes: they follow
RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, and import nothing of Django.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def sm3(data: bytes) -> bytes:
    """The SM3 digest of ``data`` (32 bytes)."""
    return hashlib.new("sm3", data).digest()


def leaf_hash(entry: bytes) -> bytes:
    return sm3(LEAF_PREFIX + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sm3(NODE_PREFIX + left + right)


EMPTY_ROOT = sm3(b"")
# Folded right-edge hashes a source may keep (a few per tree size; bounded so that memory stays small).
RANGE_CACHE_LIMIT = 4096


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two smaller than ``n`` (n ≥ 2)."""
    if n < 2:
        raise ValueError("n must be at least 2")
    return 1 << ((n - 1).bit_length() - 1)


class NodeSource(Protocol):
    """Where a proof producer reads complete subtree hashes from (a file store, a list in a test)."""

    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree of 2**level leaves starting at leaf index * 2**level."""
        ...


class ListSource:
    """A :class:`NodeSource` over leaf hashes held in a list: for tests and small tools, not for the log."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]


def range_hash(source: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range the RFC 9162 recursion reaches: aligned-complete or ending at a tree's edge."""
    size = end - start
    if size <= 0:
        raise ValueError("an empty range has no subtree hash")
    if size & (size - 1) == 0 and start % size == 0:
        return source.node(size.bit_length() - 1, start // size)
    # Right-edge ranges recur in every proof against the same tree size: a source may keep them.
    cache: dict[tuple[int, int], bytes] | None = getattr(source, "range_cache", None)
    if cache is not None and (start, end) in cache:
        return cache[(start, end)]
    split = largest_power_of_two_below(size)
    value = node_hash(range_hash(source, start, start + split), range_hash(source, start + split, end))
    if cache is not None:
        if len(cache) >= RANGE_CACHE_LIMIT:
            cache.clear()
        cache[(start, end)] = value
    return value


def root_hash(source: NodeSource, size: int) -> bytes:
    """The Merkle tree hash of the first ``size`` leaves."""
    if size < 0:
        raise ValueError("a tree size cannot be negative")
    return EMPTY_ROOT if size == 0 else range_hash(source, 0, size)


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1: the audit path of one leaf, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    # Walk down from the root, keeping the sibling of each subtree that holds the leaf; the RFC lists
    # them from the leaf up, so the list is reversed at the end.
    while end - start > 1:
        split = start + largest_power_of_two_below(end - start)
        if index < split:
            path.append(range_hash(source, split, end))
            end = split
        else:
            path.append(range_hash(source, start, split))
            start = split
    path.reverse()
    return path


def consistency_proof(source: NodeSource, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1 (empty when the sizes are equal or ``first`` is 0)."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, second, first, True
    while True:
        size = end - start
        if m == size:
            if not whole:
                proof.append(range_hash(source, start, end))
            break
        split = largest_power_of_two_below(size)
        if m <= split:
            proof.append(range_hash(source, start + split, end))
            end = start + split
        else:
            proof.append(range_hash(source, start, start + split))
            m -= split
            start += split
            whole = False
    proof.reverse()
    return proof


def verify_inclusion(entry: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows ``entry`` as leaf ``index`` of the tree of ``size`` leaves whose hash is ``root``.

    RFC 9162 §2.1.3.2, with the leaf given as its entry bytes (the leaf hash is computed here).
    """
    return verify_inclusion_hash(leaf_hash(entry), index, size, proof, root)


def verify_inclusion_hash(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """:func:`verify_inclusion` for a leaf already hashed."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree of ``first`` leaves (``first_root``) is a prefix of that of ``second``.

    RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots; an empty first tree is a prefix of
    every tree (the RFC leaves both cases to the caller).
    """
    if not 0 <= first <= second or any(len(p) != HASH_SIZE for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    path = list(proof)
    if not path:
        return False
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
