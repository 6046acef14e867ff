"""The event outbox: domain events written with the change they report, handled after it commits.

A service publishes an event inside its own transaction::

    with transaction.atomic():
        case.save()
        outbox.publish("case.event", {"case_id": case.pk, ...})

so the event exists exactly when the change does: a rolled-back change
leaves no event behind, and a committed one cannot lose its event. Workers
(``yiwang worker``) then call :func:`process_batch`, which hands each due
event to every handler registered for its topic::

    @outbox.handles("case.event")
    def notify_applicant(event: OutboxEvent) -> None:
        notifications.queue(dedupe_key=f"case-event:{event.payload['event_id']}:in_app", ...)

Apps register their handlers when Django starts (``AppConfig.ready``).

With ``YIWANG_WORKER_ENGINE=celery`` the same handlers run in Celery
workers instead (:mod:`yiwang.core.celery_engine`, docs/adr/0034): the
events due at once are published to the broker when the transaction
commits, the rest by beat's relay; each (event, handler) that finishes is
recorded in the transaction of its effects, so a redelivered task does not
run it twice.

**Handlers must be idempotent.** All handlers of one event run in one
transaction together with marking the event processed, so their database
writes and the mark commit or roll back together. But a handler that fails,
or a worker killed at the wrong moment, means the event is handled again
later, every handler included. Write handlers so a second run changes
nothing: derive dedupe keys from the event (``event.pk`` or ids in the
payload) and use :func:`yiwang.core.notifications.queue`, which returns the
existing notification for a key it has seen. Do not call external systems
from a handler: queue a notification (or a row of your own) and let its
sender do that, outside the database transaction.

A failing event is retried with exponential backoff
(:func:`yiwang.core.leasing.backoff`); after
:data:`~yiwang.core.leasing.MAX_ATTEMPTS` attempts it stays unprocessed,
with its last error, for an administrator to look at and retry
(:func:`retry_events`, also an admin action).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import traceback
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from contextvars import ContextVar
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from . import leasing, metrics
from .audit import record_event
from .leasing import DEFAULT_LEASE, MAX_ATTEMPTS, StopCheck
from .models import OutboxEvent
from .observability import bind_request_id, current_request_id, request_id_context

logger = logging.getLogger("yiwang.outbox")

Handler = Callable[[OutboxEvent], None]
H = TypeVar("H", bound=Handler)

TOPIC_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
TOPIC_MAX_LENGTH = 64
# Enough of a traceback to find the fault without filling the table.
ERROR_MAX_LENGTH = 4000

RETRY_EVENT = "outbox.retry"

_handlers: defaultdict[str, list[Handler]] = defaultdict(list)
# While a group of events is handled in one transaction: what its handlers chose to remember for the group.
_group_memo: ContextVar[dict[Hashable, Any] | None] = ContextVar("outbox_group_memo", default=None)


class OutboxError(RuntimeError):
    """An event was published in a way that could lose it or deliver it for a rolled-back change."""


# --- publishing -------------------------------------------------------------------


def publish(topic: str, payload: dict[str, Any], *, delay: dt.timedelta | None = None) -> OutboxEvent:
    """Write an event for ``topic`` into the outbox, as part of the caller's open transaction.

    ``payload`` is a JSON object (ids and codes, not model instances or
    personal data in the clear). ``delay`` postpones handling, e.g. for a
    reminder. Raises :class:`OutboxError` outside ``transaction.atomic()``:
    an event published in autocommit mode could outlive a change that
    failed after it, or be handled before that change is visible.
    """
    (event,) = publish_many([(topic, payload, delay)])
    return event


def publish_many(events: Iterable[tuple[str, dict[str, Any], dt.timedelta | None]]) -> list[OutboxEvent]:
    """Write several events (topic, payload, delay) in one INSERT, as :func:`publish` writes one.

    For a change that reports several things at once (a licence's expiry
    reminder and its expiry); the same checks and the same transaction rule.
    """
    if not transaction.get_connection().in_atomic_block:
        raise OutboxError("outbox.publish() must be called inside the transaction.atomic() block of the change")
    now = timezone.now()
    request_id = current_request_id() or ""
    # With the Celery engine, events due at once go to the broker when the transaction commits
    # (yiwang.core.celery_engine); they are marked sent now, in the INSERT, so that the request pays no
    # second query, and unmarked if the broker cannot take them. Delayed ones wait for the relay.
    relayed = settings.WORKER_ENGINE == "celery"
    rows: list[OutboxEvent] = []
    for topic, payload, delay in events:
        if len(topic) > TOPIC_MAX_LENGTH or not TOPIC_RE.fullmatch(topic):
            raise ValueError(f"event topics look like area.action (at most {TOPIC_MAX_LENGTH} characters): {topic!r}")
        if not isinstance(payload, dict):
            raise TypeError("an event payload must be a dict (a JSON object)")
        if delay is not None and delay < dt.timedelta(0):
            raise ValueError("an event cannot be delayed by a negative time")
        rows.append(
            OutboxEvent(
                topic=topic,
                payload=payload,
                available_at=now + (delay or dt.timedelta(0)),
                request_id=request_id,
                dispatched_at=now if relayed and not delay else None,
            )
        )
    if len(rows) == 1:
        rows[0].save(force_insert=True)
    else:
        # bulk_create sets the primary keys on PostgreSQL and SQLite (RETURNING), which handlers and tests rely on.
        rows = OutboxEvent.objects.bulk_create(rows)
    if relayed and (due := [row.pk for row in rows if row.dispatched_at is not None]):
        from . import celery_engine

        transaction.on_commit(partial(celery_engine.dispatch_after_commit, due))
    return rows


# --- handler registry ---------------------------------------------------------------


def handles(topic: str) -> Callable[[H], H]:
    """Decorator: register the function as a handler of ``topic`` (several handlers per topic are allowed).

    Registering the same function again (a module imported twice) replaces
    the earlier registration instead of running it twice.
    """
    if not TOPIC_RE.fullmatch(topic):
        raise ValueError(f"event topics look like area.action: {topic!r}")

    def register(handler: H) -> H:
        key = _handler_key(handler)
        registered = _handlers[topic]
        registered[:] = [existing for existing in registered if _handler_key(existing) != key]
        registered.append(handler)
        return handler

    return register


def unregister(topic: str, handler: Handler) -> None:
    """Remove a handler (tests, or an app switching a feature off)."""
    key = _handler_key(handler)
    _handlers[topic] = [existing for existing in _handlers[topic] if _handler_key(existing) != key]


def handlers_for(topic: str) -> list[Handler]:
    """The handlers registered for ``topic``, in registration order."""
    return list(_handlers.get(topic, ()))


def handler_key(handler: Handler) -> str:
    """The name a handler is known by in the registry and in ``OutboxHandlerRun`` rows (module.qualname)."""
    return _handler_key(handler)


def _handler_key(handler: Handler) -> str:
    return f"{getattr(handler, '__module__', '')}.{getattr(handler, '__qualname__', repr(handler))}"


# --- processing ---------------------------------------------------------------------


def group_memo() -> dict[Hashable, Any] | None:
    """A dict for the handlers of a group of events handled in one transaction, None outside such a group.

    A handler may keep there what it read and the next events of the group
    would read again (a department's seal, the licence types), under a key
    of its own (``("licences.seal", code)``). It lives exactly as long as the
    group's transaction, so it never carries a read into another transaction;
    it is not undone with a failed event's savepoint, so keep reads in it,
    never rows the handler wrote.
    """
    return _group_memo.get()


def _due(now: dt.datetime) -> Q:
    return Q(processed_at__isnull=True, available_at__lte=now, attempts__lt=MAX_ATTEMPTS)


def claim_events(worker_id: str, *, limit: int = 50, lease: dt.timedelta = DEFAULT_LEASE) -> list[int]:
    """Lease up to ``limit`` due events to ``worker_id`` and return their ids (oldest first)."""
    worker_id = leasing.check_worker_id(worker_id)
    return leasing.claim(OutboxEvent, _due(timezone.now()), worker_id=worker_id, limit=limit, lease=lease)


def process_batch(
    worker_id: str,
    *,
    limit: int = 50,
    lease: dt.timedelta = DEFAULT_LEASE,
    stop: StopCheck | None = None,
    per_transaction: int = 1,
) -> int:
    """Claim up to ``limit`` due events and run their handlers; return how many events were attempted.

    Each event's handlers run in one transaction with marking it processed.
    A handler's exception rolls that transaction back, records the error and
    schedules a retry with backoff (or gives up after MAX_ATTEMPTS). ``stop``
    is asked before each event (each group, below): when it answers True the
    remaining leases are released and the batch ends early (a clean shutdown).

    ``per_transaction`` > 1 handles that many events in one transaction, each
    event's handlers in a savepoint of their own: one commit (one WAL flush)
    for the group instead of one per event. An event whose handler fails is
    rolled back to its savepoint alone and recorded as failed after the group
    commits; the others of the group are kept. If the group's transaction
    fails as a whole (at commit, or the connection is lost), nothing of it is
    kept and its events are handled again one per transaction. The database
    locks an event's handlers take (the audit chain's head, a counter) are
    held until the group commits, so groups suit a worker that does bulk work
    (licences from a day's decisions), not one whose events wait on each other.
    """
    worker_id = leasing.check_worker_id(worker_id)
    if per_transaction < 1:
        raise ValueError("per_transaction must be at least 1")
    ids = claim_events(worker_id, limit=limit, lease=lease)
    done = 0
    position = 0
    while position < len(ids):
        if stop is not None and stop():
            leasing.release(OutboxEvent, ids[position:], worker_id=worker_id)
            break
        group = ids[position : position + per_transaction]
        position += len(group)
        if len(group) == 1:
            done += _process_one(group[0], worker_id=worker_id, lease=lease)
        else:
            done += _process_group(group, worker_id=worker_id, lease=lease)
    return done


def _process_group(event_ids: list[int], *, worker_id: str, lease: dt.timedelta) -> int:
    """Handle several events in one transaction, each in a savepoint; return how many were attempted."""
    mine = OutboxEvent.objects.filter(pk__in=event_ids, processed_at__isnull=True, locked_by=worker_id)
    if not mine.update(locked_until=timezone.now() + lease):
        return 0
    failures: list[tuple[int, Exception]] = []
    memo = _group_memo.set({})
    try:
        with transaction.atomic():
            events = list(mine.select_for_update().order_by("pk"))
            handled: list[int] = []
            for event in events:
                with request_id_context(None):
                    bind_request_id(event.request_id or None)
                    try:
                        with transaction.atomic():  # this event's savepoint: its failure undoes only its writes
                            for handler in handlers_for(event.topic):
                                handler(event)
                    except Exception as error:
                        failures.append((event.pk, error))
                    else:
                        handled.append(event.pk)
            OutboxEvent.objects.filter(pk__in=handled).update(
                processed_at=timezone.now(),
                attempts=F("attempts") + 1,
                locked_until=None,
                locked_by="",
                last_error="",
            )
    except Exception as error:
        logger.warning("a group of %s events failed as a whole, handling them one by one: %s", len(event_ids), error)
        whole_group_failed = True
    else:
        whole_group_failed = False
    finally:
        _group_memo.reset(memo)
    if whole_group_failed:
        # Nothing of the group was kept: each event again in a transaction of its own (without the group's
        # memo), so that whatever broke the group is pinned on the event that causes it, or passes.
        return sum(_process_one(event_id, worker_id=worker_id, lease=lease) for event_id in event_ids)
    for event_id, failure in failures:
        _record_failure(event_id, worker_id=worker_id, error=failure)
    return len(events)


def _process_one(event_id: int, *, worker_id: str, lease: dt.timedelta) -> bool:
    mine = OutboxEvent.objects.filter(pk=event_id, processed_at__isnull=True, locked_by=worker_id)
    # Renew the lease for this one event: later events of a long batch may have
    # passed to another worker meanwhile, and this tells us so.
    if not mine.update(locked_until=timezone.now() + lease):
        return False
    # The handlers' log lines, and a failure's, carry the id of the request that published the
    # event: bound once the event is read, undone when this block ends.
    with request_id_context(None):
        return _run_handlers(mine, event_id, worker_id=worker_id)


def _run_handlers(mine: QuerySet[OutboxEvent], event_id: int, *, worker_id: str) -> bool:
    try:
        with transaction.atomic():
            event = mine.select_for_update().first()
            if event is None:
                return False
            bind_request_id(event.request_id or None)
            for handler in handlers_for(event.topic):
                handler(event)
            OutboxEvent.objects.filter(pk=event_id).update(
                processed_at=timezone.now(),
                attempts=F("attempts") + 1,
                locked_until=None,
                locked_by="",
                last_error="",
            )
    except Exception as error:
        _record_failure(event_id, worker_id=worker_id, error=error)
    return True


def _record_failure(event_id: int, *, worker_id: str, error: BaseException) -> None:
    text = "".join(traceback.format_exception(error))[-ERROR_MAX_LENGTH:]
    with transaction.atomic():
        event = (
            OutboxEvent.objects.select_for_update()
            .filter(pk=event_id, processed_at__isnull=True, locked_by=worker_id)
            .first()
        )
        if event is None:
            return
        attempts = event.attempts + 1
        now = timezone.now()
        available_at = now + leasing.backoff(attempts) if attempts < MAX_ATTEMPTS else event.available_at
        OutboxEvent.objects.filter(pk=event_id).update(
            attempts=attempts, available_at=available_at, locked_until=None, locked_by="", last_error=text
        )
    metrics.count_handler_failure(event.topic)
    if attempts < MAX_ATTEMPTS:
        logger.warning(
            "event %s (%s) failed, attempt %s; retry at %s: %s", event_id, event.topic, attempts, available_at, error
        )
    else:
        logger.error("event %s (%s) failed %s times; giving up: %s", event_id, event.topic, attempts, error)


def release_leases(worker_id: str) -> int:
    """Free every event lease held under ``worker_id`` (a worker starting again under the same name)."""
    return leasing.release_all(OutboxEvent, worker_id=leasing.check_worker_id(worker_id))


# --- administration -----------------------------------------------------------------


def failed_events() -> QuerySet[OutboxEvent]:
    """Events that used up their attempts and are no longer retried (newest first)."""
    return OutboxEvent.objects.filter(processed_at__isnull=True, attempts__gte=MAX_ATTEMPTS).order_by("-id")


def retry_events(event_ids: Iterable[int], *, actor: Any = None) -> int:
    """Give unprocessed events a fresh round of attempts, due now; audited; return how many were reset."""
    ids = sorted(set(event_ids))
    with transaction.atomic():
        count = OutboxEvent.objects.filter(pk__in=ids, processed_at__isnull=True).update(
            attempts=0, available_at=timezone.now(), locked_until=None, locked_by="", dispatched_at=None
        )
        if count:
            record_event(RETRY_EVENT, actor=actor, target="core.OutboxEvent", detail={"ids": ids[:100], "count": count})
    return count
