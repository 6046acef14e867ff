"""好差评 public results over ten million ratings, and rating throughput through the service layer.

Data: tallies (``feedback_tally``: one row per day, department, item, channel,
mode and window, and their per-department roll-up ``feedback_departmentdaytally``)
for 10,000,000 ratings (YIWANG_BENCH_FEEDBACK_RATINGS overrides) over the 730
days up to today, in all 27 seed departments,
bulk-created directly: the point is that results read tallies, never ratings,
so no rating rows are needed. Volume per department follows its number of
published items; weekends get a third of a weekday's ratings. Within a
department and day, ratings fall on items by a Zipf law (the popular items
get most), on channels by a fixed mix (70 % online: web, mobile, SMS, kiosk,
hotline; 30 % at counters: QR code, counter pad, kiosk, spread over the
department's windows), and on levels 80/12/4/2/2 % from 非常满意 down;
half of the bad ones are real-name with a rectification due, 90 % of those
closed on time. Each backend runs in a process of its own: a fresh SQLite
file, then (when a server answers at PG_URL) a throw-away PostgreSQL
database ``yiwang_bench_<pid>``; the load time goes to standard error.

feedback.results_p95_ms: 95th percentile of ``GET /ratings/results/`` (the
department table with its totals, rendered) through Django's test client
in-process, 30 requests per period, each for a period ending on a different
recent day: a 30-day and a 1-year period, on each backend
(``feedback.results_<30d|1y>_p95_ms_<backend>``). The headline is the worst
of them.

feedback.rate_per_s: counter visits rated one after another through
``services.rate_visit`` (suspicion rules, tally update, audit record, all in
the rating's transaction) on the loaded database, anonymous QR ratings from
distinct phones, a third with a comment; the visits are opened beforehand,
untimed. Per backend (``feedback.rate_per_s_<backend>``); the headline is the
slower one.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from _cases import percentile, postgresql_reachable, throwaway_postgresql
from _setup import bench, django_with_seed

DAYS = 730
REQUESTS = 30
RATINGS_TIMED = 600
LEVEL_WEIGHTS = (0.02, 0.02, 0.04, 0.12, 0.80)  # level 1 (非常不满意) … level 5 (非常满意)
ONLINE_CHANNELS = (("web", 0.35), ("mobile", 0.25), ("sms", 0.05), ("kiosk", 0.03), ("hotline", 0.02))
COUNTER_CHANNELS = (("qr", 0.20), ("pad", 0.08), ("kiosk", 0.02))
BATCH = 5000


# --- generating the tallies ---------------------------------------------------------------------


def _department_plans() -> list[tuple[int, int, list[tuple[str, str, str, int]], list[float]]]:
    """Per department: its id, its number of items, its keys (item code, channel, mode, window) and their weights."""
    from yiwang.catalog.models import ServiceItem, Window
    from yiwang.directory.models import Department

    plans = []
    for department in Department.objects.order_by("pk"):
        items = ServiceItem.objects.published().filter(department=department).order_by("-popularity", "code")
        item_codes = list(dict.fromkeys(items.values_list("code", flat=True))) or [""]
        windows = list(Window.objects.filter(department=department).values_list("pk", flat=True)) or [0]
        keys: list[tuple[str, str, str, int]] = []
        weights: list[float] = []
        for rank, code in enumerate(item_codes, start=1):
            popularity = 1.0 / rank  # Zipf: the n-th most popular item gets 1/n of the first's ratings
            for channel, share in ONLINE_CHANNELS:
                keys.append((code, channel, "online", 0))
                weights.append(popularity * share)
            for channel, share in COUNTER_CHANNELS:
                for window in windows:
                    keys.append((code, channel, "counter", window))
                    weights.append(popularity * share / len(windows))
        plans.append((department.pk, len(item_codes), keys, weights))
    return plans


def _daily_volumes(total: int, days: list[dt.date], sizes: list[int]) -> dict[tuple[int, int], int]:
    """Ratings per (day index, department index), summing to exactly ``total``."""
    weights = {}
    for d, day in enumerate(days):
        day_weight = 1.0 if day.weekday() < 5 else 1 / 3
        for n, size in enumerate(sizes):
            weights[d, n] = day_weight * size
    scale = total / sum(weights.values())
    volumes = {key: int(weight * scale) for key, weight in weights.items()}
    # Whatever the rounding left over goes to the busiest cells, one each.
    short = total - sum(volumes.values())
    for key in sorted(weights, key=weights.__getitem__, reverse=True)[:short]:
        volumes[key] += 1
    return volumes


def generate(total: int) -> int:
    """Bulk-create the tallies of ``total`` ratings; returns the number of rows."""
    from django.db import connection, transaction

    from yiwang.core import calendar
    from yiwang.feedback.models import Tally

    rng = random.Random(20261124)
    today = calendar.today_local()
    days = [today - dt.timedelta(days=DAYS - 1 - n) for n in range(DAYS)]
    plans = _department_plans()
    volumes = _daily_volumes(total, days, [size for _pk, size, _keys, _w in plans])
    cumulative = []
    for _pk, _size, _keys, weights in plans:
        running, acc = 0.0, []
        for weight in weights:
            running += weight
            acc.append(running)
        cumulative.append(acc)
    levels = (1, 2, 3, 4, 5)
    rows = counted = 0
    started = time.perf_counter()
    pending: list[Tally] = []
    with transaction.atomic():
        for d, day in enumerate(days):
            for n, (department_id, _size, keys, _weights) in enumerate(plans):
                picks = Counter(rng.choices(range(len(keys)), cum_weights=cumulative[n], k=volumes[d, n]))
                for index, count in picks.items():
                    split = Counter(rng.choices(levels, weights=LEVEL_WEIGHTS, k=count))
                    bad = split[1] + split[2]
                    due = sum(1 for _ in range(bad) if rng.random() < 0.5)
                    on_time = sum(1 for _ in range(due) if rng.random() < 0.9)
                    code, channel, mode, window = keys[index]
                    pending.append(
                        Tally(
                            day=day,
                            department_id=department_id,
                            item_code=code,
                            channel=channel,
                            mode=mode,
                            window_id=window,
                            level_1=split[1],
                            level_2=split[2],
                            level_3=split[3],
                            level_4=split[4],
                            level_5=split[5],
                            rectification_due=due,
                            rectified_on_time=on_time,
                        )
                    )
                    counted += count
            if len(pending) >= BATCH or d == len(days) - 1:
                Tally.objects.bulk_create(pending, batch_size=BATCH)
                rows += len(pending)
                pending = []
            if d % 73 == 72:
                print(
                    f"  {d + 1} days, {rows} rows, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True
                )
    assert counted == total, (counted, total)
    counts = [*(f"level_{n}" for n in range(1, 6)), "rectification_due", "rectified_on_time"]
    with connection.cursor() as cursor:
        # The per-department roll-up the services keep beside the tallies, built here in one statement.
        cursor.execute(
            f"INSERT INTO feedback_departmentdaytally (day, department_id, {', '.join(counts)}) "
            f"SELECT day, department_id, {', '.join(f'SUM({c})' for c in counts)} "
            "FROM feedback_tally GROUP BY day, department_id"
        )
        cursor.execute("ANALYZE")
    print(
        f"generated {rows} tally rows for {total} ratings over {DAYS} days and {len(plans)} departments "
        f"in {time.perf_counter() - started:.1f} s, ANALYZE included",
        file=sys.stderr,
        flush=True,
    )
    return rows


# --- measuring ------------------------------------------------------------------------------------------


def check_against_a_sum() -> None:
    """The page's figures (from the roll-up) are the detailed tallies' sums: one cross-check before timing."""
    from django.db.models import Sum

    from yiwang.feedback import selectors
    from yiwang.feedback.models import Tally

    period = selectors.period_of()
    total = selectors.overall(period)
    expected = Tally.objects.filter(day__gte=period.start, day__lte=period.end).aggregate(
        **{f"l{n}": Sum(f"level_{n}") for n in range(1, 6)}
    )
    assert total.levels == tuple(expected[f"l{n}"] or 0 for n in range(1, 6)), (total, expected)


def explain(period: Any) -> None:
    from django.db import connection

    from yiwang.feedback.models import DepartmentDayTally
    from yiwang.feedback.selectors.results import TALLY_SUMS

    if connection.vendor != "postgresql":
        return
    query = (
        DepartmentDayTally.objects.filter(day__gte=period.start, day__lte=period.end)
        .values("department_id")
        .annotate(**TALLY_SUMS)
        .order_by("department_id")
    )
    print(
        f"EXPLAIN ANALYZE of the department table, {period.days} days:\n{query.explain(analyze=True)}", file=sys.stderr
    )


def measure_results(backend: str) -> list[float]:
    from django.test import Client

    from yiwang.core import calendar
    from yiwang.feedback import selectors

    client = Client()
    today = calendar.today_local()
    worst = []
    for label, days in (("30d", 30), ("1y", 365)):
        for _ in range(3):  # warm the process and the database's caches
            client.get("/ratings/results/")
        timings = []
        for n in range(REQUESTS):
            end = today - dt.timedelta(days=n)
            start = end - dt.timedelta(days=days - 1)
            t0 = time.perf_counter()
            response = client.get(f"/ratings/results/?from={start.isoformat()}&to={end.isoformat()}")
            body = response.content
            timings.append(time.perf_counter() - t0)
            assert response.status_code == 200, body[:300]
            assert "示范市公安局".encode() in body
        explain(selectors.Period(today - dt.timedelta(days=days - 1), today))
        p95 = 1000 * percentile(timings, 0.95)
        print(f"{backend} {label}: median {1000 * percentile(timings, 0.5):.1f} ms", file=sys.stderr, flush=True)
        bench(f"feedback.results_{label}_p95_ms_{backend}", p95, "ms")
        worst.append(p95)
    return worst


def measure_rating(backend: str) -> None:
    from tests.accounts.factories import make_staff

    from yiwang.accounts.constants import Role
    from yiwang.catalog.models import Window
    from yiwang.feedback import services
    from yiwang.feedback.constants import RatingChannel

    rng = random.Random(7)
    window = Window.objects.filter(department__code="market").order_by("pk").first()
    assert window is not None
    clerks = [make_staff(Role.COUNTER_CLERK, "market") for _ in range(4)]
    visits = [
        services.open_visit(clerk=clerks[n % len(clerks)], window_id=window.pk) for n in range(RATINGS_TIMED + 20)
    ]
    words = "办事效率高态度好等候时间长材料一次说清楚窗口引导热情指南准确系统流畅"

    def rate(n: int) -> None:
        comment = "".join(rng.choices(words, k=12)) if n % 3 == 0 else ""
        services.rate_visit(
            token=visits[n].token,
            user=None,
            level=rng.choices((1, 2, 3, 4, 5), weights=LEVEL_WEIGHTS)[0],
            scores={"attitude": 5},
            comment=comment,
            origin=services.Origin(RatingChannel.QR, device=f"phone-{n}", address=f"10.0.{n // 250}.{n % 250}"),
        )

    for n in range(20):  # warm up
        rate(RATINGS_TIMED + n)
    started = time.perf_counter()
    for n in range(RATINGS_TIMED):
        rate(n)
    elapsed = time.perf_counter() - started
    bench(f"feedback.rate_per_s_{backend}", RATINGS_TIMED / elapsed, "1/s")


def run_backend(backend: str, total: int) -> None:
    """One backend, in this process: set up Django on it, load, check, measure."""
    os.environ["DEBUG"] = "false"
    django_with_seed()
    from django.db import connections

    try:
        generate(total)
        check_against_a_sum()
        measure_results(backend)
        measure_rating(backend)
    finally:
        connections.close_all()


def child(backend: str) -> int:
    total = int(os.environ.get("YIWANG_BENCH_FEEDBACK_RATINGS", "10000000"))
    if backend == "postgresql":
        with throwaway_postgresql(f"yiwang_bench_{os.getpid()}") as url:
            os.environ["DATABASE_URL"] = url
            run_backend(backend, total)
    else:
        os.environ.pop("DATABASE_URL", None)  # the fresh SQLite file of this run's var directory
        run_backend(backend, total)
    return 0


def main() -> int:
    backends = ["sqlite"] + (["postgresql"] if postgresql_reachable() else [])
    if len(backends) == 1:
        print("SKIPPED: feedback on PostgreSQL: no PostgreSQL server answers at PG_URL", flush=True)
    figures: dict[str, float] = {}
    failed = 0
    for backend in backends:
        print(f"-- {backend}", file=sys.stderr, flush=True)
        result = subprocess.run(
            [sys.executable, __file__, "--backend", backend], check=False, stdout=subprocess.PIPE, text=True
        )
        for line in result.stdout.splitlines():
            print(line, flush=True)
            parts = line.split()
            if len(parts) == 4 and parts[0] == "BENCH":
                figures[parts[1]] = float(parts[2])
        failed += result.returncode != 0
    results = [v for k, v in figures.items() if k.startswith("feedback.results_")]
    rates = [v for k, v in figures.items() if k.startswith("feedback.rate_per_s_")]
    if results:
        bench("feedback.results_p95_ms", max(results), "ms")
    if rates:
        bench("feedback.rate_per_s", min(rates), "1/s")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--backend":
        sys.exit(child(sys.argv[2]))
    sys.exit(main())
