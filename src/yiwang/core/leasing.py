"""Leases on work rows, shared by the event outbox and the notification queue.

A worker claims a batch of due rows by writing its name and a lease expiry
into ``locked_by`` / ``locked_until``. Another worker skips a row while its
lease runs and may take it over once the lease has passed (the holder died
or hung). Finishing a row is always conditional on the row still being in
the state the worker expects, so a worker that lost its lease does no harm.

How the claim itself is made atomic depends on the database:

* PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` picks rows that no other
  claiming transaction holds, then the same transaction writes the lease.
* SQLite (and any database without SKIP LOCKED): a compare-and-set
  ``UPDATE … WHERE <still due and unleased>``; the rows it changed are ours.
  SQLite runs one write transaction at a time (``BEGIN IMMEDIATE``, see
  settings), so two workers can never both win a row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

DEFAULT_LEASE = dt.timedelta(seconds=60)
WORKER_ID_MAX_LENGTH = 64
# Retries: 30 s, 1 min, 2 min, … doubling up to an hour between attempts.
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)
# With the figures above, ten attempts span a little over three hours before giving up.
MAX_ATTEMPTS = 10

StopCheck = Callable[[], bool]


def check_worker_id(worker_id: str) -> str:
    """Refuse a worker name that cannot be stored in ``locked_by``."""
    worker_id = (worker_id or "").strip()
    if not worker_id or len(worker_id) > WORKER_ID_MAX_LENGTH:
        raise ValueError(f"worker id must be 1–{WORKER_ID_MAX_LENGTH} characters: {worker_id!r}")
    return worker_id


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next try after ``attempts`` failed ones: doubling from BACKOFF_BASE, capped."""
    if attempts < 1:
        return dt.timedelta(0)
    # Capping the exponent first keeps huge attempt counts from overflowing timedelta.
    return min(BACKOFF_BASE * 2 ** min(attempts - 1, 30), BACKOFF_CAP)


def unleased(now: dt.datetime) -> Q:
    """Rows nobody holds: never leased, released, or whose lease has run out."""
    return Q(locked_until__isnull=True) | Q(locked_until__lte=now)


def claim(
    model: type[models.Model], due: Q, *, worker_id: str, limit: int, lease: dt.timedelta = DEFAULT_LEASE
) -> list[int]:
    """Lease up to ``limit`` rows of ``model`` matching ``due`` (oldest first) to ``worker_id``; return their ids."""
    if limit < 1:
        return []
    now = timezone.now()
    until = now + lease
    available = model._default_manager.filter(due, unleased(now)).order_by("pk")
    connection = transaction.get_connection()
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(available.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
            if ids:
                model._default_manager.filter(pk__in=ids).update(locked_until=until, locked_by=worker_id)
        return ids
    candidates = list(available.values_list("pk", flat=True)[:limit])
    if not candidates:
        return []
    with transaction.atomic():
        # The WHERE clause repeats the conditions: a row another worker claimed in
        # the meantime no longer matches, and stays theirs.
        model._default_manager.filter(due, unleased(now), pk__in=candidates).update(
            locked_until=until, locked_by=worker_id
        )
        return list(
            model._default_manager.filter(pk__in=candidates, locked_by=worker_id, locked_until=until)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def release(model: type[models.Model], ids: list[int], *, worker_id: str) -> int:
    """Give back leases still held by ``worker_id`` on ``ids`` so that any worker may take the rows at once."""
    if not ids:
        return 0
    return model._default_manager.filter(pk__in=ids, locked_by=worker_id).update(locked_until=None, locked_by="")


def release_all(model: type[models.Model], *, worker_id: str) -> int:
    """Give back every lease held under ``worker_id``: a restarted worker's predecessor of that name is gone."""
    return model._default_manager.filter(locked_by=worker_id).update(locked_until=None, locked_by="")
