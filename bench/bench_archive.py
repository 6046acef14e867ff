"""The e-archive's Merkle log: appends per second, and proofs at 10,000,000 entries from the level files.

``archive.append_per_s``: whole appends as the outbox handler makes them —
a ~4 KB package written and fsynced, its leaf and completed subtrees
written and fsynced, the entry row, a new tree head signed with SM2, the
audit record — on a throw-away SQLite database, one after another.

``archive.proof_ms_10m`` / ``archive.proof_bytes_10m`` / ``archive.rss_mb_10m``:
a log of 10M leaves is built once, straight into the level files (hashlib's
SM3 over synthetic entries, not through the database), and kept in the
temporary directory between runs (``YIWANG_BENCH_ARCHIVE_DIR`` moves it).
A fresh process then opens the files at that size and serves inclusion
proofs for random leaves with ``pread`` — nothing loaded whole — checking
each against the root; its peak RSS is the memory figure. ``proof_ms_10m`` is
the mean (with p50 and p99 beside it: on a shared, loaded machine the mean
moves with the scheduler more than with the proofs). Consistency
proofs are timed too (``archive.consistency_ms_10m``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import REPO, bench, django_with_seed

SIZE = 10_000_000
PROOFS = 2000
APPENDS = 300
CHUNK = 1 << 20  # records hashed per step while building: bounded memory whatever the size


def _cache_dir() -> Path:
    base = os.environ.get("YIWANG_BENCH_ARCHIVE_DIR") or os.path.join(tempfile.gettempdir(), "yiwang-bench-archive")
    return Path(base) / f"log-{SIZE}"


def build_log(directory: Path, size: int) -> None:
    """Write the level files of a log of ``size`` synthetic leaves, unless a complete one is already there."""
    done = directory / "complete"
    if done.exists() and done.read_text() == str(size):
        return
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    new = hashlib.new
    with open(directory / "level-00.bin", "wb") as out:
        for start in range(0, size, CHUNK):
            out.write(
                b"".join(new("sm3", b"\x00bench-entry-%d" % i).digest() for i in range(start, min(size, start + CHUNK)))
            )
    level, count = 0, size
    while count >= 2:
        pairs = count // 2
        with (
            open(directory / f"level-{level:02d}.bin", "rb") as below,
            open(directory / f"level-{level + 1:02d}.bin", "wb") as out,
        ):
            for start in range(0, pairs, CHUNK):
                block = below.read(min(CHUNK, pairs - start) * 64)
                view = memoryview(block)
                out.write(b"".join(new("sm3", b"\x01" + view[i : i + 64]).digest() for i in range(0, len(block), 64)))
        level, count = level + 1, pairs
    done.write_text(str(size))
    print(f"built a log of {size} leaves in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM): unlike ru_maxrss it is not inherited from the parent across exec."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve_proofs(directory: str, size: int) -> None:
    """In a fresh process: proofs for random leaves from the files, each verified; print the figures as JSON."""
    sys.path.insert(0, str(REPO / "src"))
    from yiwang.licences import merkle
    from yiwang.licences.archive_store import LogFiles

    files = LogFiles(Path(directory), size)
    root = merkle.root_hash(files, size)
    rng = random.Random(9162)
    indices = [rng.randrange(size) for _ in range(PROOFS)]
    for index in indices[:50]:  # warm up
        merkle.inclusion_proof(files, index, size)
    times, proofs = [], []
    for index in indices:
        started = time.perf_counter()
        proofs.append(merkle.inclusion_proof(files, index, size))
        times.append(time.perf_counter() - started)
    times.sort()
    new = hashlib.new
    for index, proof in zip(indices, proofs, strict=True):
        leaf = new("sm3", b"\x00bench-entry-%d" % index).digest()
        if not merkle.verify_inclusion_hash(leaf, index, size, proof, root):
            raise SystemExit(f"proof of leaf {index} does not verify")
    firsts = [rng.randrange(1, size) for _ in range(200)]
    started = time.perf_counter()
    for first in firsts:
        merkle.consistency_proof(files, first, size)
    consistency = (time.perf_counter() - started) / len(firsts)
    files.close()
    print(
        json.dumps(
            {
                "proof_ms": sum(times) / len(times) * 1000,
                "proof_p50_ms": times[len(times) // 2] * 1000,
                "proof_p99_ms": times[int(len(times) * 0.99)] * 1000,
                "proof_bytes": max(len(p) for p in proofs) * merkle.HASH_SIZE,
                "consistency_ms": consistency * 1000,
                "rss_mb": _peak_rss_mb(),
            }
        )
    )


def bench_appends() -> None:
    django_with_seed(seed=False)
    from yiwang.licences.models import ArchiveEntry
    from yiwang.licences.services import archive

    package = {"case": {"number": "BENCH", "notes": "办件记录" * 400}, "events": [{"action": "close"}] * 20}
    archive._append("case", "BENCH-warmup", package, case_id=None)
    started = time.perf_counter()
    for number in range(APPENDS):
        archive._append("case", f"BENCH-{number:06d}", package, case_id=None)
    elapsed = time.perf_counter() - started
    assert ArchiveEntry.objects.count() == APPENDS + 1
    bench("archive.append_per_s", APPENDS / elapsed, "appends/s")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve_proofs(sys.argv[2], int(sys.argv[3]))
        return
    bench_appends()
    directory = _cache_dir()
    build_log(directory, SIZE)
    result = subprocess.run(
        [sys.executable, __file__, "--serve", str(directory), str(SIZE)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(result.stdout)
    bench("archive.proof_ms_10m", figures["proof_ms"], "ms")
    bench("archive.proof_p50_ms_10m", figures["proof_p50_ms"], "ms")
    bench("archive.proof_p99_ms_10m", figures["proof_p99_ms"], "ms")
    bench("archive.proof_bytes_10m", figures["proof_bytes"], "bytes")
    bench("archive.consistency_ms_10m", figures["consistency_ms"], "ms")
    bench("archive.rss_mb_10m", figures["rss_mb"], "MB")


if __name__ == "__main__":
    main()
