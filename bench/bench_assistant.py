"""The assistant (智能客服) on plain questions about the demo catalogue, and on questions it must decline.

bench/assistant_questions.tsv: ``question``, the expected ``item`` (an item
code or a bundle code; empty: no item covers it and the assistant must
decline), the expected ``aspect`` (empty: none) and the ``split``: ``dev``
rows were used to calibrate the thresholds (docs/adr/0014-assistant.md),
``test`` rows never were. Each question is asked as the first turn of a
new conversation, through the same dialogue the API and the chat page use (nothing is stored).

- item_top1: share of answerable questions whose first source is the right item or bundle
  (answers and clarifying questions alike: a clarification lists the fitting items best first);
- aspect_acc: share of answerable questions whose recognised aspect is the expected one (or both none);
- decline_acc: share of the questions no item covers that are declined (not answered, no choices offered);
- p95_ms: 95th percentile of the time to answer one question (after the model and item vectors are loaded).

``python bench/bench_assistant.py other.tsv`` runs another set of the same shape (the split column optional).
"""

from __future__ import annotations

import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

from _setup import bench, django_with_seed

QUESTIONS = Path(__file__).resolve().parent / "assistant_questions.tsv"


def load(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle, delimiter="\t") if row.get("question")]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else QUESTIONS
    django_with_seed()
    from yiwang.assistant import recognise, services

    started = time.perf_counter()
    recognise.warm_up()
    print(f"model and item vectors ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    rows = load(path)
    totals: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    timings = []
    misses = []
    for row in rows:
        t0 = time.perf_counter()
        reply = services.answer_question(row["question"])
        timings.append((time.perf_counter() - t0) * 1000)
        groups = ["all", row.get("split") or "all"]
        first = reply.sources[0].code if reply.sources else ""
        if row["item"]:
            item_ok = first == row["item"]
            aspect_ok = (reply.aspect or "") == row["aspect"]
            for group in dict.fromkeys(groups):
                totals[group]["item"].append(item_ok)
                totals[group]["aspect"].append(aspect_ok)
            if not (item_ok and aspect_ok):
                misses.append(
                    f"  {row.get('split', '')} {row['question']!r} got {reply.kind} {first[:24]} {reply.aspect}"
                )
        else:
            declined = reply.kind == "decline"
            for group in dict.fromkeys(groups):
                totals[group]["decline"].append(declined)
            if not declined:
                misses.append(f"  {row.get('split', '')} {row['question']!r} not declined: {reply.kind} {first[:24]}")
    print("Misses:", file=sys.stderr)
    print("\n".join(misses), file=sys.stderr)
    timings.sort()
    for group in ("dev", "test", "all"):
        if group not in totals:
            continue
        prefix = "assistant" if group == "all" else f"assistant.{group}"
        for metric, key in (("item_top1", "item"), ("aspect_acc", "aspect"), ("decline_acc", "decline")):
            values = totals[group][key]
            if values:
                print(f"{prefix}.{metric}: n={len(values)}", file=sys.stderr)
                bench(f"{prefix}.{metric}", sum(values) / len(values), "")
    bench("assistant.p95_ms", timings[int(len(timings) * 0.95)], "ms")


if __name__ == "__main__":
    main()
