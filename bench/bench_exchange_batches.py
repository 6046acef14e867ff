"""Batch exchange (前置库): loading a 100,000-row household batch, then the same rows again.

A fresh database (SQLite unless DATABASE_URL is set) with the demo catalogue; one CSV batch of
household rows with an SM3 manifest is dropped in a temporary front directory and ``batches.run``
takes it in, checks it (checksum, columns, every resident ID) and loads it in one transaction. The
figures are rows per second for the first load (all inserts: each ID encrypted and indexed) and for
the next batch carrying the same rows (all compared and found unchanged).

``python bench/bench_exchange_batches.py [rows]``; default 100,000.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from _setup import bench, django_with_seed


def _rows(count: int) -> list[dict[str, str]]:
    from yiwang.core.identifiers import make_resident_id

    rows = []
    for n in range(count):
        # Distinct for up to 50 years x 12 months x 28 days x 1000 serials.
        serial, rest = n % 1000, n // 1000
        day, month, year = 1 + rest % 28, 1 + (rest // 28) % 12, 1950 + (rest // 336) % 50
        number = make_resident_id("990102", f"{year}{month:02d}{day:02d}", f"{serial:03d}")
        rows.append(
            {
                "id_number": number,
                "name": f"测试{n}",
                "gender": "男" if n % 2 else "女",
                "ethnicity": "汉族",
                "birth_date": f"{year}-{month:02d}-{day:02d}",
                "address": f"示范市幸福街道幸福路{n % 300}号",
                "household_number": f"99010200{n % 10000:04d}",
                "household_head": f"测试{n - n % 3}",
                "relation_to_head": "户主" if n % 3 == 0 else "子女",
            }
        )
    return rows


def main(count: int) -> None:
    django_with_seed()
    from yiwang.exchange import batch_formats, batches, demo
    from yiwang.exchange.constants import Backend
    from yiwang.exchange.models import Batch

    demo.create_catalogue()
    front = Path(tempfile.mkdtemp(prefix="yiwang-front-"))
    rows = _rows(count)
    assert len({row["id_number"] for row in rows}) == count, "resident IDs must be distinct"
    columns = batch_formats.SCHEMAS[Backend.HOUSEHOLD].names
    for sequence, label in ((1, "load"), (2, "reload_unchanged")):
        batch_formats.write_batch(
            front / "inbox",
            f"household-{sequence}",
            department="police",
            resource="RES-POLICE-0001",
            sequence=sequence,
            rows=rows,
            columns=columns,
        )
        started = time.perf_counter()
        (batch,) = batches.run(front)
        seconds = time.perf_counter() - started
        if batch.status != Batch.Status.LOADED:
            raise SystemExit(f"batch {sequence} was {batch.status}: {batch.reason}")
        print(
            f"batch {sequence}: {count} rows in {seconds:.1f}s "
            f"(inserted {batch.rows_inserted}, updated {batch.rows_updated}, unchanged {batch.rows_unchanged})"
        )
        bench(f"exchange.batch_{label}_rows_per_s_{count // 1000}k", count / seconds, "rows/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
