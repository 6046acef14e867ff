"""Outbox events drained by one Celery worker process from RabbitMQ (YIWANG_WORKER_ENGINE=celery).

``EVENTS`` events are published (one commit per ``PER_COMMIT``, sent to the
broker after each commit, as a service's transaction does), each handled by
a notification handler that queues one text message, which the same task
delivers to an in-memory SMS sink (bench/_celery_bench_app.py). Then one
worker process (``--pool solo``, one task at a time) is started on the queue
and the clock runs from the first event handled to the last message marked
sent (the database's own timestamps), so its start-up does not count.

* ``outbox.drain_per_s``: events per second handled *and* their messages delivered, per worker.
* ``outbox.drain_per_cpu_s``: the same per second of the worker's CPU time.

A queue of the run's own on ``YIWANG_BENCH_BROKER_URL`` (default the local
RabbitMQ, guest/guest); SQLite in WAL mode, or PostgreSQL when
``DATABASE_URL`` points at one. Without a broker the bench says so and
prints nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
EVENTS = int(os.environ.get("BENCH_EVENTS", "5000"))
PER_COMMIT = 100
BROKER_URL = os.environ.get("YIWANG_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
QUEUE = f"yiwang-bench-{uuid.uuid4().hex[:10]}"

os.environ.update(
    YIWANG_WORKER_ENGINE="celery",
    YIWANG_BROKER_URL=BROKER_URL,
    YIWANG_CELERY_QUEUE=QUEUE,
    YIWANG_CELERY_QUEUE_EXPIRES_SECONDS="600",
)
os.environ.setdefault("YIWANG_VAR_DIR", tempfile.mkdtemp(prefix="yiwang-bench-celery-"))

from _setup import REPO, bench, django_with_seed  # noqa: E402


def broker_answers() -> bool:
    from kombu import Connection

    try:
        with Connection(BROKER_URL, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
    except Exception as error:
        print(f"SKIPPED bench_outbox_celery: no broker at {BROKER_URL}: {error}", file=sys.stderr)
        return False
    return True


def publish_events() -> None:
    from django.db import transaction

    from yiwang.core import outbox

    for start in range(0, EVENTS, PER_COMMIT):
        with transaction.atomic():
            outbox.publish_many(
                [("bench.notify", {"n": n, "person_id": 1 + n % 997}, None) for n in range(start, start + PER_COMMIT)]
            )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_worker() -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "_celery_bench_app",
        "worker",
        "--pool=solo",
        f"--queues={QUEUE}",
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    return subprocess.Popen(command, cwd=BENCH_DIR, env=env)


def main() -> int:
    if not broker_answers():
        return 1 if os.environ.get("CI") == "true" else 0
    django_with_seed(seed=False)
    from django.db.models import Max, Min

    import _celery_bench_app  # noqa: F401  (the handler, so that publishing knows the topic's shape)
    from yiwang.core.models import Notification, NotificationStatus, OutboxEvent

    started = time.perf_counter()
    publish_events()
    print(f"published {EVENTS} events in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    worker = start_worker()
    try:
        cpu_start: float | None = None
        deadline = time.monotonic() + 600
        while Notification.objects.filter(status=NotificationStatus.SENT).count() < EVENTS:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker stopped or stalled (exit {worker.returncode})")
            if cpu_start is None and OutboxEvent.objects.filter(processed_at__isnull=False).exists():
                cpu_start = cpu_seconds(worker.pid)
            time.sleep(0.2)
        cpu = cpu_seconds(worker.pid) - (cpu_start or 0.0)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    first = OutboxEvent.objects.aggregate(first=Min("processed_at"))["first"]
    last = Notification.objects.aggregate(last=Max("sent_at"))["last"]
    assert OutboxEvent.objects.filter(processed_at__isnull=True).count() == 0
    seconds = (last - first).total_seconds()
    print(f"{EVENTS} events handled and delivered in {seconds:.2f}s, worker CPU {cpu:.2f}s", file=sys.stderr)
    bench("outbox.drain_per_s", (EVENTS - 1) / seconds, "events/s")
    bench("outbox.drain_per_cpu_s", (EVENTS - 1) / cpu, "events/cpu-s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
