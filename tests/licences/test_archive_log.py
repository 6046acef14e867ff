"""The log files on disk: appends, reads at the committed size, partial writes and truncation after a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from yiwang.licences import merkle
from yiwang.licences.archive_store import LogDamaged, LogFiles, level_path, open_log


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"e{i}".encode()) for i in range(n)]


def _build(directory: Path, n: int) -> list[bytes]:
    leaves = _leaves(n)
    with open_log(directory, 0) as files:
        for leaf in leaves:
            files.append(leaf)
    return leaves


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 33])
def test_files_hold_every_complete_subtree_and_prove_like_the_list(tmp_path: Path, n: int) -> None:
    leaves = _build(tmp_path, n)
    reference = merkle.ListSource(leaves)
    with open_log(tmp_path, n) as files:
        assert merkle.root_hash(files, n) == merkle.root_hash(reference, n)
        for level in range(n.bit_length()):
            assert level_path(tmp_path, level).stat().st_size == (n >> level) * 32
        for m in range(n):
            assert merkle.inclusion_proof(files, m, n) == merkle.inclusion_proof(reference, m, n)
        for first in range(1, n + 1):
            assert merkle.consistency_proof(files, first, n) == merkle.consistency_proof(reference, first, n)
        assert files.check_lengths().clean


def test_reads_stop_at_the_committed_size(tmp_path: Path) -> None:
    _build(tmp_path, 5)
    with open_log(tmp_path, 4) as files:
        with pytest.raises(IndexError):
            files.leaf(4)
        # Leaf 4 is on disk but not committed: an uncommitted tail, reported, never read.
        assert files.check_lengths().extra_bytes == {0: 32}


def test_an_append_that_never_committed_is_cut_before_the_next(tmp_path: Path) -> None:
    leaves = _build(tmp_path, 3)
    # The transaction of leaf 3 rolled back after its write: the database still says 3.
    with open_log(tmp_path, 3) as files:
        files.append(merkle.leaf_hash(b"rolled back"))
    with open_log(tmp_path, 3) as files:
        report = files.repair_tail()
        assert report.extra_bytes == {0: 32, 1: 32, 2: 32}
        files.append(merkle.leaf_hash(b"e3"))
    with open_log(tmp_path, 4) as files:
        assert merkle.root_hash(files, 4) == merkle.root_hash(merkle.ListSource([*leaves, merkle.leaf_hash(b"e3")]), 4)


def test_a_partial_record_is_detected_and_cut(tmp_path: Path) -> None:
    _build(tmp_path, 2)
    with open(level_path(tmp_path, 0), "ab") as out:
        out.write(b"\x07" * 13)  # a crash in the middle of writing leaf 2
    with open_log(tmp_path, 2) as files:
        assert files.check_lengths().extra_bytes == {0: 13}
        files.repair_tail()
    assert level_path(tmp_path, 0).stat().st_size == 64


def test_a_truncated_log_is_damage_not_a_tail(tmp_path: Path) -> None:
    _build(tmp_path, 6)
    os.truncate(level_path(tmp_path, 0), 5 * 32 + 10)
    with open_log(tmp_path, 6) as files:
        with pytest.raises(LogDamaged) as damaged:
            files.check_lengths()
        assert damaged.value.level == 0
        assert damaged.value.first_missing == 5
        with pytest.raises(LogDamaged):
            files.repair_tail()
        with pytest.raises(LogDamaged):
            files.leaf(5)
        with pytest.raises(LogDamaged):
            list(files.iter_leaves())


def test_a_missing_level_file_is_damage(tmp_path: Path) -> None:
    _build(tmp_path, 4)
    level_path(tmp_path, 2).unlink()
    files = LogFiles(tmp_path, 4)
    try:
        with pytest.raises(LogDamaged):
            files.check_lengths()
        with pytest.raises(LogDamaged):
            files.node(2, 0)
    finally:
        files.close()


def test_a_leaf_hash_must_be_32_bytes(tmp_path: Path) -> None:
    with open_log(tmp_path, 0) as files, pytest.raises(ValueError):
        files.append(b"short")
