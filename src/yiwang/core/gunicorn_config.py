"""gunicorn settings of ``yiwang serve`` (passed as ``--config python:yiwang.core.gunicorn_config``).

Command-line options of the serve command and ``GUNICORN_CMD_ARGS`` still
apply on top; this module holds only the server hooks.
"""

from __future__ import annotations

from typing import Any


def on_starting(server: Any) -> None:
    """In the master, before any worker exists: the shared metrics directory, emptied (yiwang.core.metrics).

    ``yiwang serve`` has done it already (before starting its outbox worker); this covers gunicorn started
    directly with this config.
    """
    from yiwang.core.metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir()


def child_exit(server: Any, worker: Any) -> None:
    """In the master, when a worker has exited: its live gauges leave the sum (its counters stay)."""
    from yiwang.core.metrics import mark_process_dead

    mark_process_dead(worker.pid)


def post_fork(server: Any, worker: Any) -> None:
    """In each worker, right after the fork and before anything loads or a thread starts."""
    from yiwang.core.warmup import prepare_serving_process

    prepare_serving_process()


def post_worker_init(worker: Any) -> None:
    """In each worker, once the application is loaded: build what the first request would otherwise build."""
    from yiwang.core.warmup import warm_up_worker

    warm_up_worker()
