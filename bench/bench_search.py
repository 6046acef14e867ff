"""Search quality on colloquial queries, and speed on a synthetic 10,000-item catalogue.

Quality: bench/search_queries.tsv (query, expected names separated by "|",
category), run against the whole seed catalogue through the same selector
the API uses. A query counts as found at the rank of the first expected
name among the top 10.

Speed: the seed documents are multiplied into 10,000 distinct items (each
copy moved to another district and department, with varied names); the
index is built from scratch and every evaluation query is timed in-process.
"""

from __future__ import annotations

import csv
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from _setup import bench, django_with_seed

QUERIES = Path(__file__).resolve().parent / "search_queries.tsv"


def load_queries() -> list[tuple[str, list[str], str]]:
    rows = []
    with QUERIES.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            rows.append((row["query"], row["expected"].split("|"), row["note"]))
    return rows


def quality(queries: list[tuple[str, list[str], str]]) -> None:
    from yiwang.catalog import selectors

    reciprocal, top1, found = [], 0, 0
    by_category: dict[str, list[float]] = defaultdict(list)
    misses = []
    for query, expected, category in queries:
        hits, _ = selectors.search(query, limit=10)
        names = [h.doc.name for h in hits]
        rank = next((i + 1 for i, name in enumerate(names) if name in expected), None)
        rr = 1.0 / rank if rank else 0.0
        reciprocal.append(rr)
        by_category[category].append(rr)
        top1 += rank == 1
        found += rank is not None
        if rank != 1:
            misses.append(f"  rank={rank} {query!r} want={expected[0]} got={names[:3]}")
    n = len(queries)
    print(f"{n} queries; by category (MRR@10):", file=sys.stderr)
    for category, values in sorted(by_category.items()):
        print(f"  {category:12s} n={len(values):3d} mrr={statistics.mean(values):.3f}", file=sys.stderr)
    print("Not first:", file=sys.stderr)
    print("\n".join(misses), file=sys.stderr)
    bench("search.mrr10", statistics.mean(reciprocal), "")
    bench("search.top1", top1 / n, "")
    bench("search.recall10", found / n, "")


def synthetic_documents(count: int) -> list:
    from yiwang.catalog.search.engine import bundle_documents, item_documents

    seed_docs = item_documents() + bundle_documents()
    rng = random.Random(20261122)
    districts = [f"第{n}区" for n in range(1, 60)]
    qualifiers = ["", "（个人）", "（企业）", "（变更）", "（延续）", "（补办）", "（注销）", "（新办）"]
    docs = []
    for i in range(count):
        base = seed_docs[i % len(seed_docs)]
        district = districts[(i // len(seed_docs)) % len(districts)]
        qualifier = rng.choice(qualifiers) if i >= len(seed_docs) else ""
        name = base.name + qualifier
        fields = {k: list(v) for k, v in base.fields.items()}
        fields["name"] = [name]
        fields["department"] = [f"示范市{district}{base.department_name[-6:]}"]
        docs.append(replace(base, code=f"{base.code}-{i}", name=name, fields=fields, popularity=rng.randint(0, 100)))
    return docs


def speed(queries: list[tuple[str, list[str], str]]) -> None:
    from yiwang.catalog.search.engine import load_synonyms
    from yiwang.catalog.search.index import SearchIndex

    docs = synthetic_documents(10_000)
    started = time.perf_counter()
    index = SearchIndex(load_synonyms())
    for doc in docs:
        index.add(doc)
    build_s = time.perf_counter() - started
    timings = []
    for _ in range(3):
        for query, _, _ in queries:
            t0 = time.perf_counter()
            index.search(query, limit=10)
            timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95)]
    print(
        f"{len(timings)} timed queries over {len(index)} documents; median {statistics.median(timings):.2f} ms",
        file=sys.stderr,
    )
    bench("search.index_build_s_10k", build_s, "s")
    bench("search.p95_ms_10k", p95, "ms")


def main() -> None:
    django_with_seed()
    queries = load_queries()
    quality(queries)
    speed(queries)


if __name__ == "__main__":
    main()
