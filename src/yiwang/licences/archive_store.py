"""The e-archive log on disk: one file of fixed 32-byte records per tree level, read at random.

``level-00.bin`` holds the leaf hashes in order; ``level-KK.bin`` the hash of
every complete, aligned subtree of 2**K leaves, as soon as it is complete.
Record ``i`` of level ``K`` sits at byte ``32·i``, so a proof reads its
O(log n) nodes with ``pread`` and the process never holds the log in
memory (ADR 0018). A tree of ``n`` leaves has exactly ``n >> K`` records on
level ``K``; the database's committed size is the authority on ``n``:

- records beyond it are the tail of an append whose transaction did not
  commit (a crash or a rollback after the write): they are never read, and
  :meth:`LogFiles.repair_tail` cuts them off before the next append;
- a level shorter than it, or a record that is not 32 bytes, means the log
  lost or changed committed data: :class:`LogDamaged`, never repaired
  silently.

Appends write and ``fsync`` the records *before* the database transaction
that raises the size commits, so a committed entry is always on disk. The
caller serialises appends (a row lock on the log in the database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from yiwang.licences.merkle import HASH_SIZE, node_hash

MAX_LEVELS = 64


class LogDamaged(Exception):
    """Committed records of the log are missing or malformed on disk."""

    def __init__(self, message: str, *, level: int, first_missing: int | None = None) -> None:
        super().__init__(message)
        self.level = level
        self.first_missing = first_missing


@dataclass(frozen=True)
class TailReport:
    """What lies on disk beyond the committed size, per level: extra bytes of uncommitted or partial records."""

    extra_bytes: dict[int, int]

    @property
    def clean(self) -> bool:
        return not any(self.extra_bytes.values())


def level_path(directory: Path, level: int) -> Path:
    return directory / f"level-{level:02d}.bin"


class LogFiles:
    """Read and append the level files of one log directory; a :class:`~yiwang.licences.merkle.NodeSource`.

    Open it with the committed size; reads beyond it are refused, so an
    uncommitted tail can never reach a proof.
    """

    def __init__(self, directory: Path, size: int) -> None:
        self.directory = Path(directory)
        self.size = size
        self._fds: dict[int, int] = {}
        # Hashes of ranges inside the committed size never change (appends only write beyond it).
        self.range_cache: dict[tuple[int, int], bytes] = {}

    # --- reading ---------------------------------------------------------------------

    def _fd(self, level: int, *, create: bool = False) -> int:
        fd = self._fds.get(level)
        if fd is None:
            path = level_path(self.directory, level)
            if create:
                self.directory.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o640)
            except FileNotFoundError:
                raise LogDamaged(f"第 {level} 层日志文件不存在", level=level, first_missing=0) from None
            self._fds[level] = fd
        return fd

    def _levels_on_disk(self) -> int:
        highest = -1
        if self.directory.exists():
            for path in self.directory.glob("level-*.bin"):
                number = path.stem.removeprefix("level-")
                if number.isdigit():
                    highest = max(highest, int(number))
        return max(highest + 1, self.size.bit_length())

    def node(self, level: int, index: int) -> bytes:
        if not 0 <= index < (self.size >> level):
            raise IndexError(f"no complete node {index} on level {level} of a tree of {self.size}")
        record = os.pread(self._fd(level), HASH_SIZE, index * HASH_SIZE)
        if len(record) != HASH_SIZE:
            raise LogDamaged(f"第 {level} 层第 {index} 条记录缺失（日志文件被截断）", level=level, first_missing=index)
        return record

    def leaf(self, index: int) -> bytes:
        return self.node(0, index)

    def iter_leaves(self, start: int = 0, chunk: int = 4096) -> Iterator[tuple[int, bytes]]:
        """The committed leaf hashes from ``start`` on, read a chunk at a time."""
        fd = self._fd(0)
        index = start
        while index < self.size:
            count = min(chunk, self.size - index)
            data = os.pread(fd, count * HASH_SIZE, index * HASH_SIZE)
            got = len(data) // HASH_SIZE
            for offset in range(got):
                yield index + offset, data[offset * HASH_SIZE : (offset + 1) * HASH_SIZE]
            if got < count:
                raise LogDamaged(f"叶子记录 {index + got} 起缺失（日志文件被截断）", level=0, first_missing=index + got)
            index += count

    def check_lengths(self) -> TailReport:
        """Raise :class:`LogDamaged` if a level is shorter than the committed size needs; report any extra tail."""
        extra: dict[int, int] = {}
        for level in range(min(self._levels_on_disk(), MAX_LEVELS)):
            expected = (self.size >> level) * HASH_SIZE
            path = level_path(self.directory, level)
            actual = path.stat().st_size if path.exists() else 0
            if actual < expected:
                raise LogDamaged(
                    f"第 {level} 层日志文件应有 {expected} 字节，实有 {actual} 字节（已截断）",
                    level=level,
                    first_missing=actual // HASH_SIZE,
                )
            if actual > expected:
                extra[level] = actual - expected
        return TailReport(extra)

    # --- appending --------------------------------------------------------------------

    def repair_tail(self) -> TailReport:
        """Cut off what an append that never committed left beyond the committed size (after a crash)."""
        report = self.check_lengths()
        for level in report.extra_bytes:
            fd = self._fd(level, create=True)
            os.ftruncate(fd, (self.size >> level) * HASH_SIZE)
            os.fsync(fd)
        return report

    def append(self, leaf: bytes) -> int:
        """Write ``leaf`` as leaf ``size`` and every subtree it completes; fsync; return the new size.

        The new size is durable on disk when this returns; it becomes the
        log's size only when the caller's transaction commits it.
        """
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        index = self.size
        touched = [0]
        os.pwrite(self._fd(0, create=True), leaf, index * HASH_SIZE)
        level, position, current = 0, index, leaf
        # Each completed pair of level-K nodes makes one node of level K+1: amortised one extra write.
        while position & 1:
            left = os.pread(self._fd(level), HASH_SIZE, (position - 1) * HASH_SIZE)
            if len(left) != HASH_SIZE:
                raise LogDamaged(f"第 {level} 层记录 {position - 1} 缺失", level=level, first_missing=position - 1)
            current = node_hash(left, current)
            level += 1
            position >>= 1
            os.pwrite(self._fd(level, create=True), current, position * HASH_SIZE)
            touched.append(level)
        for touched_level in touched:
            os.fsync(self._fd(touched_level))
        self.size = index + 1
        return self.size

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


@contextmanager
def open_log(directory: Path, size: int) -> Iterator[LogFiles]:
    files = LogFiles(directory, size)
    try:
        yield files
    finally:
        files.close()
