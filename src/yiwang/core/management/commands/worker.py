"""``yiwang worker``: hand outbox events to their handlers and deliver notifications, until stopped.

Each pass runs :func:`yiwang.core.outbox.process_batch`, then
:func:`yiwang.core.notifications.deliver_batch`; when both found nothing to
do the worker sleeps ``--poll`` seconds. SIGTERM or SIGINT (Ctrl-C) stops it
after the item in hand; the items it had claimed but not started are
released at once for other workers. Several workers may run against one
database: each claims its items under a lease (see yiwang.core.leasing).

``yiwang serve`` starts one worker beside the web server unless
``YIWANG_EMBEDDED_WORKER=0``. With ``YIWANG_WORKER_ENGINE=celery`` this
command refuses to run: ``yiwang celery-worker`` is the worker then.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connections

from yiwang.core import leasing, notifications, outbox

logger = logging.getLogger("yiwang.worker")

DEFAULT_POLL_SECONDS = 2.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[-leasing.WORKER_ID_MAX_LENGTH :]


class Command(BaseCommand):
    per_transaction = 1  # outbox events per transaction; --per-transaction sets it

    help = "Process outbox events and deliver notifications until SIGTERM/SIGINT (or one pass with --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass of events and notifications, then exit")
        parser.add_argument(
            "--poll", type=float, default=DEFAULT_POLL_SECONDS, help="seconds to sleep when there is nothing to do"
        )
        parser.add_argument("--id", dest="worker_id", default="", help="this worker's name (default: host:pid)")
        parser.add_argument("--batch", type=int, default=50, help="items claimed at a time (default 50)")
        parser.add_argument(
            "--per-transaction",
            type=int,
            default=1,
            help="outbox events handled in one transaction, each in a savepoint (default 1; see outbox.process_batch)",
        )
        parser.add_argument(
            "--lease",
            type=float,
            default=leasing.DEFAULT_LEASE.total_seconds(),
            help="seconds another worker waits before taking over an item this one claimed (default 60)",
        )
        # For `yiwang serve`: do not outlive the server even if it is killed without a chance to stop us.
        # The server passes its own pid: by the time Django has started here it may already be gone.
        parser.add_argument(
            "--parent-pid", type=int, default=None, help="stop when this process is no longer our parent"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.WORKER_ENGINE != "embedded":
            # Two engines polling one outbox would each think the events theirs to send.
            raise CommandError(
                f"YIWANG_WORKER_ENGINE={settings.WORKER_ENGINE}: run `yiwang celery-worker` (Celery's workers and"
                " beat handle the outbox), not the embedded worker"
            )
        if options["poll"] <= 0 or options["batch"] < 1 or options["lease"] <= 0 or options["per_transaction"] < 1:
            raise CommandError("--poll and --lease must be positive, --batch and --per-transaction at least 1")
        try:
            worker_id = leasing.check_worker_id(options["worker_id"] or default_worker_id())
        except ValueError as error:
            raise CommandError(str(error)) from error
        batch: int = options["batch"]
        self.per_transaction = int(options["per_transaction"])
        lease = dt.timedelta(seconds=options["lease"])
        poll: float = options["poll"]

        stopping = threading.Event()
        received: list[str] = []
        parent: int | None = options["parent_pid"]

        def request_stop(signum: int, frame: FrameType | None) -> None:
            # Only note it here: the loop finishes the item in hand, then stops.
            received.append(signal.Signals(signum).name)
            stopping.set()

        def should_stop() -> bool:
            if parent is not None and os.getppid() != parent:
                stopping.set()
            return stopping.is_set()

        previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.run(
                worker_id,
                once=options["once"],
                batch=batch,
                lease=lease,
                poll=poll,
                stopping=stopping,
                should_stop=should_stop,
            )
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        reason = f" ({received[0]})" if received else ""
        self.stdout.write(f"yiwang worker {worker_id} stopped{reason}")

    def run(
        self,
        worker_id: str,
        *,
        once: bool,
        batch: int,
        lease: dt.timedelta,
        poll: float,
        stopping: threading.Event,
        should_stop: Callable[[], bool],
    ) -> None:
        self.stdout.write(f"yiwang worker {worker_id} started")
        if once:
            self.release_leases(worker_id)
            events = outbox.process_batch(
                worker_id, limit=batch, lease=lease, stop=should_stop, per_transaction=self.per_transaction
            )
            sent = notifications.deliver_batch(worker_id, limit=batch, lease=lease, stop=should_stop)
            self.stdout.write(f"yiwang worker {worker_id}: {events} event(s), {sent} notification(s)")
            return
        released = False
        while not should_stop():
            # Long-lived process: let Django drop connections past CONN_MAX_AGE or broken by a database restart.
            close_old_connections()
            try:
                if not released:
                    self.release_leases(worker_id)
                    released = True
                events = outbox.process_batch(
                    worker_id, limit=batch, lease=lease, stop=should_stop, per_transaction=self.per_transaction
                )
                sent = notifications.deliver_batch(worker_id, limit=batch, lease=lease, stop=should_stop)
            except Exception:
                # The database is away, locked or not migrated yet: stay alive (nobody restarts an
                # embedded worker) and try again after a pause.
                logger.exception("worker %s: pass failed; retrying in %.1fs", worker_id, poll)
                stopping.wait(poll)
                continue
            if events or sent:
                logger.debug("worker %s: %s event(s), %s notification(s)", worker_id, events, sent)
            else:
                stopping.wait(poll)
        connections.close_all()

    def release_leases(self, worker_id: str) -> None:
        # A worker restarted under the same name takes its predecessor's items back at once.
        outbox.release_leases(worker_id)
        notifications.release_leases(worker_id)
