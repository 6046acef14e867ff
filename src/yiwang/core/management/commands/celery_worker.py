"""``yiwang celery-worker``: a Celery worker of the outbox (``YIWANG_WORKER_ENGINE=celery``).

The same as ``celery -A yiwang.celery_app worker --queues $YIWANG_CELERY_QUEUE``;
``--beat`` also runs the relay sweeps in this process (one beat per
deployment). Arguments after ``--`` go to Celery unchanged.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run a Celery worker of the outbox (YIWANG_WORKER_ENGINE=celery); --beat also runs the relay sweeps."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--beat", action="store_true", help="run beat in this worker (one per deployment)")
        parser.add_argument("--concurrency", type=int, default=0, help="processes (default: one per core)")
        parser.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
        parser.add_argument("--loglevel", default="INFO")
        parser.add_argument("celery_args", nargs="*", help="further arguments for `celery worker`, after --")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.WORKER_ENGINE != "celery":
            raise CommandError("Set YIWANG_WORKER_ENGINE=celery and YIWANG_BROKER_URL to run a Celery worker")
        from yiwang.core.celery_engine import app

        argv = ["worker", f"--queues={settings.CELERY_QUEUE}", f"--loglevel={options['loglevel']}"]
        argv.append(f"--pool={options['pool']}")
        if options["concurrency"]:
            argv.append(f"--concurrency={options['concurrency']}")
        if options["beat"]:
            argv.append("--beat")
        app.worker_main([*argv, *options["celery_args"]])
