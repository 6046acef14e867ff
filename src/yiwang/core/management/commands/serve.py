"""``yiwang serve``: the production-shaped WSGI server (gunicorn), not Django's runserver.

Beside gunicorn it runs one ``yiwang worker`` subprocess (outbox events and
notifications), stopped when the server stops. ``YIWANG_EMBEDDED_WORKER=0``
leaves it out, for deployments that run workers as a service of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

# A worker stops after the item in hand; an SMS gateway call can take a while.
WORKER_STOP_SECONDS = 30


class Command(BaseCommand):
    help = "Serve Yiwang with gunicorn on 127.0.0.1:$PORT (default 8000), with a background worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        # More than one thread per worker switches gunicorn to its gthread worker, which keeps client
        # connections alive between requests (the sync worker closes each): what peer nodes sending many
        # exchange messages want (docs/exchange-nodes.md, "Throughput").
        parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "1")))

    def handle(self, *args: Any, **options: Any) -> None:
        from gunicorn.app.wsgiapp import WSGIApplication

        from yiwang.core.checks import SERVING
        from yiwang.core.metrics import empty_multiprocess_dir, multiprocess_environment

        # Beside the usual checks (run before handle): what would make every page fail, such as
        # static files never collected in production. Raises SystemCheckError, naming them.
        self.check(tags=[SERVING], include_deployment_checks=True, display_num_errors=True)
        # Those checks read the database, and gunicorn forks its workers from this process: a connection
        # inherited by two workers interleaves their queries on one socket, and PostgreSQL's answers
        # arrive at the wrong worker ("lost synchronization with server" during warm-up).
        connections.close_all()

        # No gunicorn access log: its lines hold the raw path and query string (ids, phone numbers);
        # yiwang.access writes one line per request instead (yiwang.core.observability).
        argv = [
            "gunicorn",
            "yiwang.wsgi:application",
            # Its post_worker_init hook builds the search index before a worker takes requests.
            "--config",
            "python:yiwang.core.gunicorn_config",
            "--bind",
            f"{options['host']}:{options['port']}",
            "--workers",
            str(options["workers"]),
            "--threads",
            str(options["threads"]),
            "--graceful-timeout",
            "10",
            # gunicorn's longest request line (its default is 4094), so the API's own
            # limit (core.problems.MAX_API_URI_BYTES) answers over-long URIs first.
            "--limit-request-line",
            "8190",
        ]
        # Every process of this server (gunicorn's workers, the outbox worker) writes its counters into one
        # directory for /metrics to add up (yiwang.core.metrics, multiprocess mode). It reaches gunicorn as
        # --env, set in the master before it forks; not in this process, which has loaded the apps already.
        metrics_env = multiprocess_environment(empty_multiprocess_dir())
        for name, value in metrics_env.items():
            argv += ["--env", f"{name}={value}"]
        worker = self.start_worker(metrics_env) if settings.EMBEDDED_WORKER else None
        self.stdout.write(f"Yiwang serving on http://{options['host']}:{options['port']}/")
        # gunicorn reads its options from sys.argv; it then owns the process
        # until it exits (by SystemExit, through the finally below).
        sys.argv = argv
        try:
            WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn").run()
        finally:
            if worker is not None:
                self.stop_worker(worker)

    def start_worker(self, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "yiwang.cli", "worker", "--parent-pid", str(os.getpid())]
        env = {**os.environ, **extra_env}
        worker = subprocess.Popen(command, env=env)  # noqa: S603  (our own interpreter and module, no shell)
        self.stdout.write(f"Background worker started (pid {worker.pid}); YIWANG_EMBEDDED_WORKER=0 turns it off")
        return worker

    def stop_worker(self, worker: subprocess.Popen[bytes]) -> None:
        # gunicorn's master reaps every child, ours included, so the worker may
        # already be gone; Popen then reports it as exited.
        if worker.poll() is not None:
            return
        worker.terminate()
        try:
            worker.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=5)
