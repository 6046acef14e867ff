"""Work a server process does once when it starts, so that no visitor's request pays for it.

Apps connect receivers to :data:`worker_started` (the catalogue builds its
search index there); ``yiwang serve`` sends it from gunicorn's
``post_worker_init`` hook (:mod:`yiwang.core.gunicorn_config`) in every
worker, after the application is loaded and before the first request. It is
never sent on import or by management commands, so ``migrate`` and the
tests do not pay for it either.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.dispatch import Signal

logger = logging.getLogger("yiwang.warmup")

# Sent with sender=None and no arguments.
worker_started = Signal()


# Heap arenas a serving worker may keep (glibc); its threads share them.
SERVING_MALLOC_ARENAS = 2


def prepare_serving_process() -> None:
    """Set up a server worker before it loads the model or starts a thread.

    The embedding engine and NumPy's BLAS run on ``YIWANG_WORKER_COMPUTE_THREADS`` threads (default one:
    the workers already use every core, and a pool's threads spinning for each other on a loaded machine
    made a search 30 times slower), and glibc keeps few heap arenas. Measured in ADR 0012 (memory and
    latency of search at 10,000 items).
    """
    from threadpoolctl import threadpool_limits

    from yiwang.core import embeddings

    threads = settings.WORKER_COMPUTE_THREADS
    embeddings.use_threads(threads)
    # Set now and kept for the life of the process (not used as a context manager).
    threadpool_limits(limits=threads, user_api="blas")
    embeddings.cap_malloc_arenas(SERVING_MALLOC_ARENAS)


def warm_up_worker() -> None:
    """Run every ``worker_started`` receiver; a failing one is logged and the worker starts anyway.

    A receiver that fails (the database not reachable yet, say) must not keep
    the worker from booting: the work is then done lazily, as before, by the
    first request that needs it.
    """
    started = time.perf_counter()
    for receiver, result in worker_started.send_robust(sender=None):
        if isinstance(result, Exception):
            logger.warning("start-up task %r failed; it will run on first use", receiver, exc_info=result)
    logger.info("worker warmed up in %.2f s", time.perf_counter() - started)
