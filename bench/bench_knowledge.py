"""The knowledge base's search: quality on paraphrases of the demo entries, and speed with official replies.

Quality: each paraphrase below should find its demo entry first (top-1 share, and the share scoring at
least RELIABLE_SCORE); each off-topic question should find nothing reliable.

Speed: the first ``KB_BENCH_REPLIES`` (default 1000) official replies of ../shared/data/hotline/replies.csv
are imported as entries (skipped when the file is absent), their vectors computed in batches, and every
query timed in-process against the whole knowledge base with the shared e5 model.
"""

from __future__ import annotations

import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _setup import SHARED, bench, django_with_seed

PARAPHRASES = [
    ("身份证掉了", "身份证丢了怎么补办"),
    ("身份证丢了在哪补", "身份证丢了怎么补办"),
    ("我的身份证找不到了，要重新办一张", "身份证丢了怎么补办"),
    ("我想开个面馆要办什么", "开饭店要办什么证"),
    ("开餐厅需要什么证照", "开饭店要办什么证"),
    ("社保卡掉了咋办", "社保卡丢了怎么办"),
    ("租房能取公积金吗", "租房可以提取公积金吗"),
    ("去北京住院医保能用吗", "去外地看病医保怎么报销"),
    ("异地看病怎么报销", "去外地看病医保怎么报销"),
]
OFF_TOPIC = ["今天天气怎么样", "驾驶证到期怎么换", "护照怎么办理", "营业执照怎么注销"]


def import_replies(limit: int) -> int:
    from yiwang.accounts.constants import Role
    from yiwang.accounts.models import RoleAssignment, User
    from yiwang.knowledge import services

    source = SHARED / "data" / "hotline" / "replies.csv"
    if not source.is_file():
        print(f"{source} not found: speed measured on the demo entries only", file=sys.stderr)
        return 0
    with source.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for _n, row in zip(range(limit), reader, strict=False)]
    sample = Path(tempfile.mkdtemp()) / "replies.csv"
    with sample.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    admin = User.objects.create(username="bench-admin")
    RoleAssignment.objects.create(user=admin, role=Role.PLATFORM_ADMIN)
    from django.core.management import call_command

    started = time.perf_counter()
    call_command(
        "import_official_replies",
        str(sample),
        "--department",
        "urban_management",
        "--actor",
        "bench-admin",
        "--skip-vectors",
    )
    bench("knowledge.import_rows_per_s", len(rows) / (time.perf_counter() - started), "rows/s")
    started = time.perf_counter()
    embedded = services.store_missing_vectors(batch=64)
    bench("knowledge.embed_ms_per_entry", 1000 * (time.perf_counter() - started) / max(embedded, 1), "ms")
    return len(rows)


def main() -> None:
    django_with_seed()
    from yiwang.core import embeddings
    from yiwang.knowledge import demo, selectors, services
    from yiwang.knowledge.constants import RELIABLE_SCORE

    embeddings.load_model()
    demo.create_demo_entries()
    services.store_missing_vectors()
    top1 = reliable = 0
    for query, expected in PARAPHRASES:
        hits = selectors.search_entries(query)
        first = hits[0] if hits else None
        top1 += first is not None and first.question == expected
        reliable += first is not None and first.question == expected and first.score >= RELIABLE_SCORE
        print(f"  {query!r}: {[(h.question, h.score) for h in hits[:2]]}", file=sys.stderr)
    bench("knowledge.demo_top1", top1 / len(PARAPHRASES), "")
    bench("knowledge.demo_reliable", reliable / len(PARAPHRASES), "")
    quiet = sum(all(h.score < RELIABLE_SCORE for h in selectors.search_entries(q)) for q in OFF_TOPIC)
    bench("knowledge.off_topic_quiet", quiet / len(OFF_TOPIC), "")

    imported = import_replies(int(os.environ.get("KB_BENCH_REPLIES", "1000")))
    started = time.perf_counter()
    selectors.search_entries("预热")  # the index over every entry, built once per process
    bench("knowledge.index_build_s", time.perf_counter() - started, "s")
    timings = []
    queries = [q for q, _e in PARAPHRASES] + OFF_TOPIC + ["小区物业乱收停车费", "道路施工太久影响出行"]
    for _round in range(3):
        for query in queries:
            started = time.perf_counter()
            selectors.search_entries(query)
            timings.append(1000 * (time.perf_counter() - started))
    timings.sort()
    print(f"{imported + len(demo.ENTRIES)} entries, {len(timings)} searches", file=sys.stderr)
    bench("knowledge.search_p50_ms", statistics.median(timings), "ms")
    bench("knowledge.search_p95_ms", timings[int(0.95 * (len(timings) - 1))], "ms")
    # One more entry published: the next search rebuilds the index, reusing what it read before.
    draft = services.create_entry(
        actor=None,
        department_code="police",
        content=services.EntryContent(kind="answer", questions=["户口迁移要多久"], answer="一般5个工作日。"),
    )
    services.publish_version(draft, actor=None, skip_review=True)
    started = time.perf_counter()
    selectors.search_entries("户口迁移要多久")
    bench("knowledge.search_after_publish_ms", 1000 * (time.perf_counter() - started), "ms")


if __name__ == "__main__":
    main()
