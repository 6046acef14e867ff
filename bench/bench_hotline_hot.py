"""Hot issues and duplicate checks over the shared 12345 messages (../shared/data/hotline/hot_messages.csv).

Speed:
- ``hotline.hot_issues_s``: cluster and rank all 4,288 messages at once
  (one process, jieba's dictionary already loaded, as in a running server).
- ``hotline.duplicate_check_ms``: one new message checked against 1,000 open
  ones (the 1,000 messages before the last 300; each of those 300 checked).
- ``hotline.hot_issue_add_ms``: one message added to a running
  :class:`HotIssueTracker` that already holds all the others.

Quality is for people to judge: the top issues of the whole data set and of
its last 30 days go to standard error, with a few members of each.
"""

from __future__ import annotations

import csv
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from _setup import REPO, SHARED, bench

DATA = SHARED / "data" / "hotline" / "hot_messages.csv"
SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN_MESSAGES = 1_000
NEW_MESSAGES = 300
INCREMENTAL_MESSAGES = 50


def django_settings() -> None:
    """Settings for translations only: nothing here touches the database."""
    os.environ.setdefault("YIWANG_VAR_DIR", tempfile.mkdtemp(prefix="yiwang-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()


def parse_time(value: str) -> datetime:
    value = value.strip()
    for pattern in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    raise ValueError(f"unknown time format: {value!r}")


def load_messages() -> list:
    from yiwang.hotline.similarity import Message

    with DATA.open(encoding="utf-8") as handle:
        return [
            Message(
                key=row["留言编号"],
                title=row["留言主题"],
                text=row["留言详情"],
                created_at=parse_time(row["留言时间"]),
                likes=int(row["点赞数"] or 0),
            )
            for row in csv.DictReader(handle)
        ]


def show(title: str, issues: list, by_key: dict, members: int = 3) -> None:
    print(title, file=sys.stderr)
    for rank, issue in enumerate(issues, 1):
        print(
            f"  {rank}. [{issue.size} messages, {issue.likes} likes, score {issue.score:.2f}] "
            f"{issue.first_at:%Y-%m-%d} – {issue.last_at:%Y-%m-%d}  {issue.label}",
            file=sys.stderr,
        )
        print(
            f"     places: {'、'.join(issue.places) or '-'}   keywords: {'、'.join(issue.keywords) or '-'}",
            file=sys.stderr,
        )
        for key in issue.keys[:members]:
            print(f"     - {key} {by_key[key].title}", file=sys.stderr)


def main() -> None:
    if not DATA.exists():
        print(f"skipped: {DATA} is missing", file=sys.stderr)
        return
    django_settings()
    from yiwang.hotline import similarity

    messages = load_messages()
    by_key = {m.key: m for m in messages}
    now = max(m.created_at for m in messages)

    started = time.perf_counter()
    similarity.places("A市A2区丽发新城小区", "")  # loads jieba's dictionary, once per process
    print(f"dictionary load {time.perf_counter() - started:.2f} s", file=sys.stderr)

    # Whole data set (a year and a half): a season's half-life, so size still counts against age.
    started = time.perf_counter()
    year = similarity.hot_issues(messages, now=now, window_days=800, half_life_days=90, top=5)
    bench("hotline.hot_issues_s", time.perf_counter() - started, "s")
    show(f"Top 5 of all {len(messages)} messages (half-life 90 days):", year, by_key)
    recent = similarity.hot_issues(messages, now=now, top=5)
    show("Top 5 of the last 30 days (defaults: half-life 7 days):", recent, by_key)

    ordered = sorted(messages, key=lambda m: (m.created_at, m.key))
    opened = ordered[-(OPEN_MESSAGES + NEW_MESSAGES) : -NEW_MESSAGES]
    arriving = ordered[-NEW_MESSAGES:]
    finder = similarity.DuplicateFinder(opened)
    finder.find(arriving[0])  # document frequencies computed once
    timings = []
    found = 0
    for message in arriving:
        t0 = time.perf_counter()
        matches = finder.find(message)
        timings.append((time.perf_counter() - t0) * 1000)
        found += bool(matches)
    print(
        f"duplicates: {found} of {len(arriving)} new messages matched an open one; "
        f"median {statistics.median(timings):.2f} ms, max {max(timings):.2f} ms",
        file=sys.stderr,
    )
    bench("hotline.duplicate_check_ms", statistics.mean(timings), "ms")

    tracker = similarity.HotIssueTracker(ordered[:-INCREMENTAL_MESSAGES])
    tracker.hot_issues(now=now)
    started = time.perf_counter()
    for message in ordered[-INCREMENTAL_MESSAGES:]:
        tracker.add(message)
    bench("hotline.hot_issue_add_ms", (time.perf_counter() - started) * 1000 / INCREMENTAL_MESSAGES, "ms")


if __name__ == "__main__":
    main()
