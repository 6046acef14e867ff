"""Failure counting and lockout per key (an account, an address, another app's key)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from yiwang.accounts.models import (
    Throttle,
)

PASSWORD_FAILURES_BEFORE_LOCK = 5
LOCK_DURATION = dt.timedelta(minutes=15)
FAILURE_WINDOW = dt.timedelta(minutes=15)
IP_FAILURES_PER_WINDOW = 30


def throttle_locked_until(key: str) -> dt.datetime | None:
    """When a throttled key (e.g. ``user:<id>`` or another app's ``case-lookup:<ip>``) unlocks; None when unlocked."""
    row = Throttle.objects.filter(key=key).first()
    if row and row.locked_until and row.locked_until > timezone.now():
        return row.locked_until
    return None


def throttle_failure(
    key: str, *, limit: int, window: dt.timedelta = FAILURE_WINDOW, lock: dt.timedelta = LOCK_DURATION
) -> bool:
    """Count a failure for ``key`` (this app's or another's); returns True when this failure locks it."""
    now = timezone.now()
    with transaction.atomic():
        row, _created = Throttle.objects.select_for_update().get_or_create(key=key)
        if now - row.window_started_at > window:
            row.failures = 0
            row.window_started_at = now
        row.failures += 1
        locked = row.failures >= limit
        if locked:
            row.locked_until = now + lock
            row.failures = 0
            row.window_started_at = now
        row.save()
    return locked


def throttle_clear(key: str) -> None:
    """Forget the failures of ``key`` (after a success)."""
    Throttle.objects.filter(key=key).delete()


def throttle_backoff(
    key: str,
    *,
    free: int,
    base: dt.timedelta,
    cap: dt.timedelta,
    memory: dt.timedelta = dt.timedelta(hours=24),
) -> dt.datetime | None:
    """Count a failure for ``key``; from the ``free``-th on, block it for ``base`` doubled per further failure.

    Unlike :func:`throttle_failure` the count is not reset by a block, so each
    failure after a block waits twice as long (up to ``cap``). The count is
    forgotten ``memory`` after its first failure. Returns when the block ends.
    """
    now = timezone.now()
    with transaction.atomic():
        row, _created = Throttle.objects.select_for_update().get_or_create(key=key)
        if now - row.window_started_at > memory:
            row.failures = 0
            row.window_started_at = now
        row.failures += 1
        if row.failures >= free:
            delay = min(cap, base * 2 ** min(row.failures - free, 30))
            row.locked_until = now + delay
        row.save()
    return row.locked_until if row.failures >= free else None
