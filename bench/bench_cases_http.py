"""Submitting applications over HTTP against the production server set-up, next to a bare one-insert endpoint.

The server is gunicorn started exactly as ``yiwang serve`` starts it (sync
workers, as many as serve uses by default: 2, or WEB_CONCURRENCY), with
DEBUG off, migrated and seeded, once per database, each run in a child
process of its own: a fresh SQLite file database that the settings put in WAL
mode, then (when a server answers at PG_URL) a throw-away PostgreSQL
database. Every figure is printed per database (``….sqlite``,
``….postgresql``); the headline names without a suffix are PostgreSQL's,
the production database (production settings refuse SQLite), or SQLite's
when no PostgreSQL server answers. Beforehand, in this process and the same database, 32
citizens are created, each logged in once (a session row and cookie), and
each given their drafts of 食品经营许可 (answers, form, one small PDF per
material; one per citizen through the service layer, the rest bulk copies
of those, see ``_cases.Filler.copies``): none of that is timed.

The load: 32 client threads in this process, each with its own keep-alive
``http.client`` connection (gunicorn's sync worker closes it after every
response, so each request reconnects), each sending its requests one after
another. A few requests per client warm the workers up first and are not
counted.

cases.http_submit_per_s / cases.http_submit_p99_ms: ``POST
/api/v1/cases/applications/{id}/submit`` of a prepared draft with an
``Idempotency-Key``, session cookie and CSRF token (every one makes a new
case); completed submissions per second over the wall time of the run, and
the 99th percentile of one request's latency as the client sees it.

cases.http_bare_insert_per_s / cases.http_bare_insert_p99_ms: the same for
``POST /bench/bare-insert`` of ``bench/bare_site.py`` (a plain Django view
that inserts one row and returns JSON), served by the same gunicorn command
line with DJANGO_SETTINGS_MODULE=bare_site, on the same database, just
before the submissions (so that the background worker which ``yiwang
serve`` starts is idle then; during the submissions it delivers their
events, as it would in production).

cases.http_submit_vs_bare: submissions per second / bare inserts per
second (the issue's target is at least 0.40).

The client threads share the machine's two cores with the server, as a load
generator on the same host does; they cost both endpoints the same per
request. YIWANG_BENCH_HTTP_SUBMITS sets the number of timed submissions
(default 3,200; the bare endpoint gets as many requests);
YIWANG_BENCH_PROFILE=1 adds a cProfile of submissions made in-process
through Django's test client, to standard error.
"""

from __future__ import annotations

import cProfile
import http.client
import io
import json
import os
import pstats
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _cases import Filler, citizens, food_licence_code, percentile, postgresql_reachable, throwaway_postgresql
from _setup import bench, django_with_seed

CLIENTS = 32
# Set in the process that measures one database.
CHILD_FLAG = "YIWANG_BENCH_HTTP_DATABASE"
WARMUP_PER_CLIENT = 2
BENCH_DIR = Path(__file__).resolve().parent

# One request: method, path and headers (every request here is a POST with an empty body).
Request = tuple[str, str, dict[str, str]]


@dataclass
class Run:
    elapsed: float = 0.0
    # CPU time this (client) process spent, to show what the load generator took from the server's cores.
    client_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return len(self.latencies) / self.elapsed

    @property
    def p99_ms(self) -> float:
        return 1000 * percentile(self.latencies, 0.99)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """gunicorn as ``yiwang serve`` runs it, with the given settings module, stopped on exit."""

    def __init__(self, settings_module: str, env: dict[str, str], log: Path, probe: str) -> None:
        self.port = free_port()
        self.probe = probe
        command = Path(sys.executable).with_name("yiwang")
        argv = [str(command)] if command.exists() else [sys.executable, "-m", "yiwang.cli"]
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [*argv, "serve", "--port", str(self.port)],
            env={**env, "DJANGO_SETTINGS_MODULE": settings_module},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}; see {self.log.name}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", self.probe)
                connection.getresponse().read()
                connection.close()
                return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise SystemExit(f"gunicorn did not answer on port {self.port} within 60 s; see {self.log.name}")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def load(port: int, plans: Sequence[Sequence[Request]], expected: int, check: Callable[[bytes], bool]) -> Run:
    """Every client sends its plan, one request after another; all start together."""
    run = Run()
    lock = threading.Lock()
    barrier = threading.Barrier(len(plans) + 1)

    def client(plan: Sequence[Request]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        failures: list[str] = []
        barrier.wait()
        for method, path, headers in plan:
            t0 = time.perf_counter()
            try:
                connection.request(method, path, body=b"", headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                failures.append(f"{path}: {error!r}")
                continue
            latency = time.perf_counter() - t0
            if response.status != expected or not check(body):
                failures.append(f"{path}: {response.status} {body[:300].decode(errors='replace')}")
            else:
                mine.append(latency)
        connection.close()
        with lock:
            run.latencies.extend(mine)
            run.failures.extend(failures)

    threads = [threading.Thread(target=client, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    barrier.wait()
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    run.elapsed = time.perf_counter() - started
    run.client_cpu = time.process_time() - cpu
    return run


def report_failures(name: str, run: Run) -> None:
    if run.failures:
        print(f"{name}: {len(run.failures)} failed requests, e.g.:", file=sys.stderr)
        for failure in run.failures[:5]:
            print("  " + failure, file=sys.stderr)


def one_case(body: bytes) -> bool:
    return len(json.loads(body)["cases"]) == 1


def profile_submissions(filler: Filler, user: Any, count: int = 200) -> None:
    """cProfile of ``count`` submissions through Django's test client (middleware, API, services, database)."""
    from django.test import Client

    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    ids = [application.pk for application in filler.copies([user], count + 5)]
    for pk in ids[:5]:  # warm caches, as the server's warm-up does
        client.post(f"/api/v1/cases/applications/{pk}/submit", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    profiler = cProfile.Profile()
    profiler.enable()
    for pk in ids[5:]:
        response = client.post(f"/api/v1/cases/applications/{pk}/submit", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
        assert response.status_code == 200, response.content[:300]
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    print(f"cProfile of {count} in-process submissions:\n{out.getvalue()}", file=sys.stderr)


def main() -> int:
    database = os.environ.get(CHILD_FLAG)
    if database:
        return measure(database)
    script = os.path.abspath(__file__)
    # Django's settings are per process: each database gets a process of its own.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "YIWANG_VAR_DIR"}}
    runs = {"sqlite": subprocess.run([sys.executable, script], env={**env, CHILD_FLAG: "sqlite"}, check=False)}
    if postgresql_reachable():
        with throwaway_postgresql(f"yiwang_bench_{os.getpid()}") as url:
            runs["postgresql"] = subprocess.run(
                [sys.executable, script], env={**env, CHILD_FLAG: "postgresql", "DATABASE_URL": url}, check=False
            )
    else:
        print("SKIPPED: cases.http_* on PostgreSQL: no server answers at PG_URL", flush=True)
    return 1 if any(run.returncode for run in runs.values()) else 0


def measure(database: str) -> int:
    """One run on ``database`` (sqlite or postgresql): the figures with the database's name appended.

    The production set-up is PostgreSQL (production settings refuse SQLite),
    so its run also prints the issue's names without a suffix; SQLite, the
    embedded default, prints them only when PostgreSQL is not there.
    """
    count = int(os.environ.get("YIWANG_BENCH_HTTP_SUBMITS", "3200"))
    per_client = -(-count // CLIENTS)
    var_dir = tempfile.mkdtemp(prefix="yiwang-bench-http-")
    os.environ["YIWANG_VAR_DIR"] = var_dir
    # Development mode (production mode also wants HTTPS, keys and hosts), with DEBUG off as a real server runs.
    os.environ["DEBUG"] = "false"
    django_with_seed()

    from django.conf import settings
    from django.db import connection, connections
    from django.test import Client

    from yiwang.cases.models import Application, Case
    from yiwang.core.models import OutboxEvent

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
        print(f"SQLite database {settings.DATABASES['default']['NAME']} (journal_mode={journal})", file=sys.stderr)
    else:
        print(f"PostgreSQL database {settings.DATABASES['default']['NAME']}", file=sys.stderr)

    started = time.perf_counter()
    people = citizens(CLIENTS)
    filler = Filler(food_licence_code(), people[0])
    cookie_name = settings.SESSION_COOKIE_NAME
    drafts: dict[int, list[int]] = {user.pk: [] for user in people}
    for application in filler.copies(people, CLIENTS * (WARMUP_PER_CLIENT + per_client)):
        drafts[application.created_by_id].append(application.pk)
    submit_plans: list[list[Request]] = []
    for user in people:
        browser = Client()
        browser.force_login(user)
        csrf = secrets.token_hex(16)
        headers = {
            "Cookie": f"{cookie_name}={browser.cookies[cookie_name].value}; {settings.CSRF_COOKIE_NAME}={csrf}",
            "X-CSRFToken": csrf,
        }
        submit_plans.append(
            [
                ("POST", f"/api/v1/cases/applications/{pk}/submit", {**headers, "Idempotency-Key": uuid.uuid4().hex})
                for pk in drafts[user.pk]
            ]
        )
    drafts_made = Application.objects.filter(state="draft").count()
    print(
        f"{CLIENTS} citizens with {drafts_made} drafts ({len(filler.materials)} PDF(s) each) prepared in "
        f"{time.perf_counter() - started:.1f} s (not timed)",
        file=sys.stderr,
        flush=True,
    )
    connections.close_all()

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH", "")]))
    log = Path(var_dir) / "gunicorn.log"
    workers = env.get("WEB_CONCURRENCY", "2")
    warm = [plan[:WARMUP_PER_CLIENT] for plan in submit_plans]
    timed = [plan[WARMUP_PER_CLIENT:] for plan in submit_plans]

    bare_headers = {"Content-Type": "application/json"}
    bare_plan: list[Request] = [("POST", "/bench/bare-insert", bare_headers)] * per_client
    bare_warm: list[Request] = [("POST", "/bench/bare-insert", bare_headers)] * WARMUP_PER_CLIENT
    # A GET answers 405 there: the server is up, and nothing is inserted.
    with Server("bare_site", env, log, probe="/bench/bare-insert") as server:
        load(server.port, [bare_warm] * CLIENTS, 201, lambda body: "id" in json.loads(body))
        bare = load(server.port, [bare_plan] * CLIENTS, 201, lambda body: "id" in json.loads(body))
    report_failures("bare insert", bare)

    with Server("yiwang.settings", env, log, probe="/api/v1/openapi.json") as server:
        report_failures("warm-up", load(server.port, warm, 200, one_case))
        submit = load(server.port, timed, 200, one_case)
    report_failures("submit", submit)

    cases = Case.objects.count()
    inserted = OutboxEvent.objects.filter(topic="bench.bare").count()
    waiting = OutboxEvent.objects.filter(processed_at__isnull=True).count()
    print(
        f"gunicorn, {workers} sync workers, {CLIENTS} clients: {len(submit.latencies)} submissions in "
        f"{submit.elapsed:.2f} s ({cases} cases in the database), {len(bare.latencies)} bare inserts in "
        f"{bare.elapsed:.2f} s ({inserted} rows); p50 submit "
        f"{1000 * percentile(submit.latencies, 0.5):.1f} ms, bare {1000 * percentile(bare.latencies, 0.5):.1f} ms; "
        f"client CPU per request: submit {1000 * submit.client_cpu / len(submit.latencies):.2f} ms, "
        f"bare {1000 * bare.client_cpu / len(bare.latencies):.2f} ms; {waiting} outbox events still unprocessed",
        file=sys.stderr,
    )
    figures = [
        ("cases.http_submit_per_s", submit.per_s, "submissions/s"),
        ("cases.http_submit_p99_ms", submit.p99_ms, "ms"),
        ("cases.http_bare_insert_per_s", bare.per_s, "requests/s"),
        ("cases.http_bare_insert_p99_ms", bare.p99_ms, "ms"),
        ("cases.http_submit_vs_bare", submit.per_s / bare.per_s, ""),
    ]
    headline = database == "postgresql" or not postgresql_reachable()
    for name, value, unit in figures:
        bench(f"{name}.{database}", value, unit)
    for name, value, unit in figures if headline else ():
        bench(name, value, unit)
    if submit.failures or bare.failures:
        # The figures above count successful requests only; a failed one is a fault to look into, not noise.
        print(
            f"FAILED: {len(submit.failures)} submissions and {len(bare.failures)} bare inserts failed; see {log}",
            flush=True,
        )

    if os.environ.get("YIWANG_BENCH_PROFILE") == "1":
        profile_submissions(filler, people[0])
    if submit.failures or bare.failures:
        return 1
    shutil.rmtree(var_dir, ignore_errors=True)  # kept only when the server log is needed
    return 0


if __name__ == "__main__":
    sys.exit(main())
