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

from django.dispatch import Signal

logger = logging.getLogger("yiwang.warmup")

# Sent with sender=None and no arguments.
worker_started = Signal()


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
