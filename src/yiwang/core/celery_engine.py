"""The Celery worker engine (``YIWANG_WORKER_ENGINE=celery``): outbox events handled by Celery workers.

The outbox row stays the source of truth (docs/adr/0034-celery-worker.md):

* **Relay.** :func:`yiwang.core.outbox.publish_many` marks an event due at
  once as sent (``dispatched_at``) in its INSERT and, when the transaction
  commits, :func:`dispatch_after_commit` publishes a ``yiwang.outbox.handle``
  task carrying the ids. When the broker cannot take it the mark is undone,
  so the rows stay pending. Beat runs :func:`relay` every
  ``YIWANG_OUTBOX_RELAY_SECONDS``: it publishes what is due and was never
  sent (delayed events, reminders and deadline watches, once their time has
  come; events whose publishing failed) or was sent more than
  :data:`REDISPATCH_AFTER` ago without being handled (a message lost with a
  process that died between commit and publish, or with a broker).
* **Handling.** :func:`handle_events` (late acks: a worker lost mid-task
  leaves the message to another) runs each event in a transaction of its
  own, with the event row locked. Each handler runs in a savepoint and, in
  the same transaction as its effects, writes an ``OutboxHandlerRun`` row for
  (event, handler): a message delivered twice, or a retry, skips the
  handlers that have finished, so none runs twice. The event is marked
  processed when all have.
* **Retries.** A failing handler leaves the event pending with its error and
  one more attempt; a task for that event alone is published with the
  backoff of :func:`yiwang.core.leasing.backoff` as countdown (30 s doubling,
  up to an hour), up to :data:`~yiwang.core.leasing.MAX_ATTEMPTS` attempts,
  as with the embedded worker. Database errors around the handlers (the
  database away) make Celery retry the whole task with its own backoff.
* **Notifications** queued by a handler are delivered by the same task right
  after the handler's transaction commits (:func:`notifications.deliver_now`);
  beat's ``yiwang.notifications.deliver_due`` sweeps what is left (retries,
  a task that died in between).

The worker runs ``celery -A yiwang.celery_app worker`` (``yiwang celery-worker``);
one beat per deployment (``celery -A yiwang.celery_app beat``, or ``--beat``
on one worker).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import traceback
from typing import Any

from celery import Celery
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu import Queue

from . import leasing, notifications, outbox
from .models import OutboxEvent, OutboxHandlerRun
from .observability import bind_request_id, request_id_context

logger = logging.getLogger("yiwang.celery")

HANDLE_TASK = "yiwang.outbox.handle"
RELAY_TASK = "yiwang.outbox.relay"
DELIVER_TASK = "yiwang.notifications.deliver_due"
# Events per task message: one commit's events go together; the relay sends its finds in chunks of this size.
CHUNK = 50
# Rows the relay reads at a time.
RELAY_BATCH = 500
# An event sent this long ago and still unhandled is sent again (its message was lost). Longer than any
# backlog a healthy deployment has: a redelivered message is harmless (handler runs are recorded), only waste.
REDISPATCH_AFTER = dt.timedelta(minutes=15)
# The wait before retrying after n failed attempts is RETRY_BASE doubled n-1 times, capped (leasing.backoff).
RETRY_BASE = leasing.BACKOFF_BASE
# A retry's message may arrive this much before the event's time on another host's clock and still run.
CLOCK_SLACK = dt.timedelta(seconds=5)
# A web process gives up on an unreachable broker after this long (the relay publishes later) and does not
# try again on its requests for BROKER_PAUSE seconds.
PUBLISH_TIMEOUT = 1.0
BROKER_PAUSE = 5.0
# A notification sweep stops after this long, so that beat's next one finds a free worker.
SWEEP_SECONDS = 30.0

_broker_paused_until = 0.0


def _queue_expiry() -> dict[str, Any]:
    # Test runs name a queue of their own; it disappears a while after its last consumer is gone.
    seconds = os.environ.get("YIWANG_CELERY_QUEUE_EXPIRES_SECONDS", "").strip()
    return {"x-expires": int(float(seconds) * 1000)} if seconds else {}


def make_app() -> Celery:
    """The Celery application, configured from Django's settings (the broker, the queue, beat's schedule)."""
    celery = Celery("yiwang")
    queue = settings.CELERY_QUEUE
    celery.conf.update(
        broker_url=settings.BROKER_URL or "memory://",
        broker_connection_timeout=PUBLISH_TIMEOUT,
        broker_connection_retry_on_startup=True,
        # The broker confirms every message it has taken, so a row is marked sent only when it truly is.
        broker_transport_options={"confirm_publish": True},
        task_default_queue=queue,
        task_queues=[Queue(queue, routing_key=queue, queue_arguments=_queue_expiry())],
        task_default_routing_key=queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=4,
        worker_hijack_root_logger=False,
        timezone="UTC",
        enable_utc=True,
        beat_schedule_filename=str(settings.VAR_DIR / "celerybeat-schedule"),
        beat_schedule={
            # Each expires with its interval: sweeps piled up while the broker was away are dropped, not run.
            "outbox-relay": {
                "task": RELAY_TASK,
                "schedule": float(settings.OUTBOX_RELAY_SECONDS),
                "options": {"expires": float(settings.OUTBOX_RELAY_SECONDS)},
            },
            "notifications-deliver-due": {
                "task": DELIVER_TASK,
                "schedule": float(settings.OUTBOX_RELAY_SECONDS),
                "options": {"expires": float(settings.OUTBOX_RELAY_SECONDS)},
            },
        },
    )
    return celery


app = make_app()


def worker_id() -> str:
    """This process's name in the notification leases."""
    return f"celery:{socket.gethostname()}:{os.getpid()}"[-leasing.WORKER_ID_MAX_LENGTH :]


# --- publishing -----------------------------------------------------------------------


def send(event_ids: list[int], *, countdown: float | None = None) -> None:
    """Publish one task for ``event_ids`` (raises when the broker does not take it)."""
    handle_events.apply_async((event_ids,), countdown=countdown, retry=False)


def dispatch_after_commit(event_ids: list[int]) -> None:
    """Publish the events a transaction has just committed; on failure leave them to the relay.

    Called by ``transaction.on_commit``; it never raises, since the change has
    committed and the request must not fail for want of a broker.
    """
    global _broker_paused_until
    try:
        if time.monotonic() < _broker_paused_until:
            raise ConnectionError("the broker did not answer a moment ago")
        for start in range(0, len(event_ids), CHUNK):
            send(event_ids[start : start + CHUNK])
        return
    except Exception as error:
        _broker_paused_until = time.monotonic() + BROKER_PAUSE
        logger.warning(
            "outbox: %s event(s) left for the relay, the broker did not take them: %s", len(event_ids), error
        )
    try:
        with transaction.atomic():
            OutboxEvent.objects.filter(pk__in=event_ids, processed_at__isnull=True).update(dispatched_at=None)
    except DatabaseError:
        # They stay marked sent: the relay sends them again once REDISPATCH_AFTER has passed.
        logger.exception("outbox: could not mark %s event(s) unsent", len(event_ids))


def _relay_due(now: dt.datetime) -> Q:
    return Q(processed_at__isnull=True, available_at__lte=now, attempts__lt=leasing.MAX_ATTEMPTS) & (
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=now - REDISPATCH_AFTER)
    )


def relay(*, limit: int = RELAY_BATCH) -> int:
    """Publish the events that are due and unsent (or sent long ago and unhandled); return how many.

    Raises when the broker does not take them: those rows stay unsent, for
    the next sweep. Several relays at once (two beats) skip each other's rows
    on PostgreSQL; on SQLite they take turns.
    """
    published = 0
    while True:
        now = timezone.now()
        with transaction.atomic():
            rows = OutboxEvent.objects.filter(_relay_due(now)).order_by("pk")
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True)
            ids = list(rows.values_list("pk", flat=True)[:limit])
            if not ids:
                return published
            # Published before the rows are marked, inside their transaction: a failure leaves them unsent;
            # a commit that fails after publishing means a message sent twice, which handling tolerates.
            for start in range(0, len(ids), CHUNK):
                send(ids[start : start + CHUNK])
            OutboxEvent.objects.filter(pk__in=ids).update(dispatched_at=now)
        published += len(ids)
        if len(ids) < limit:
            return published


# --- handling -------------------------------------------------------------------------


def handle(event_id: int) -> bool | None:
    """Run the unfinished handlers of one event, then deliver what they queued; see :func:`handle_many`."""
    return handle_many([event_id])[0]


def handle_many(event_ids: list[int]) -> list[bool | None]:
    """Handle each event in a transaction of its own; then deliver, at once, the notifications they all queued.

    Per event: True when it is processed, False when a handler failed, None
    when there was nothing to do. A failure is recorded on the event (one more
    attempt, its error, due again after the backoff) in the transaction that
    keeps the handlers that did finish, and its retry is published after it
    commits. The notifications are claimed and sent in one go after the
    events' transactions (one claim for the task instead of one per event).
    """
    with notifications.collecting() as queued:
        outcomes = [_handle_one(event_id) for event_id in event_ids]
        if queued:
            notifications.deliver_now(queued, worker_id())
    return outcomes


def _handle_one(event_id: int) -> bool | None:
    attempts, retry_in = 0, None
    with request_id_context(None), transaction.atomic():
        event = OutboxEvent.objects.select_for_update().filter(pk=event_id, processed_at__isnull=True).first()
        early = event is not None and event.available_at > timezone.now() + CLOCK_SLACK
        if event is None or event.attempts >= leasing.MAX_ATTEMPTS or early:
            # Handled already, given up (an administrator retries it), or not due: a stale message.
            return None
        bind_request_id(event.request_id or None)
        error = _run_handlers(event)
        if error is None:
            OutboxEvent.objects.filter(pk=event_id).update(
                processed_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
            )
        else:
            attempts, retry_in = _record_failure(event, error)
    if retry_in is not None:
        _schedule_retry(event, attempts, retry_in)
    return error is None


def _run_handlers(event: OutboxEvent) -> BaseException | None:
    """Each unfinished handler in a savepoint with its run recorded; the first error, or None."""
    finished = set(OutboxHandlerRun.objects.filter(event_id=event.pk).values_list("handler", flat=True))
    first_error: BaseException | None = None
    for handler in outbox.handlers_for(event.topic):
        key = outbox.handler_key(handler)
        if key in finished:
            continue
        try:
            with transaction.atomic():
                handler(event)
                OutboxHandlerRun.objects.create(event_id=event.pk, handler=key)
        except Exception as error:
            # The others still run: handlers of one event are independent, and each is recorded on its own.
            first_error = first_error or error
    return first_error


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait before the next attempt after ``attempts`` failed ones: RETRY_BASE doubling, capped."""
    if attempts < 1:
        return dt.timedelta(0)
    return min(RETRY_BASE * 2 ** min(attempts - 1, 30), leasing.BACKOFF_CAP)


def _record_failure(event: OutboxEvent, error: BaseException) -> tuple[int, dt.timedelta | None]:
    """One more attempt, the error, and when to try again (None after the last attempt)."""
    attempts = event.attempts + 1
    text = "".join(traceback.format_exception(error))[-outbox.ERROR_MAX_LENGTH :]
    now = timezone.now()
    retry_in = retry_delay(attempts) if attempts < leasing.MAX_ATTEMPTS else None
    available_at = now + retry_in if retry_in is not None else event.available_at
    # The retry's message is counted as sent from the moment it falls due, for REDISPATCH_AFTER.
    OutboxEvent.objects.filter(pk=event.pk).update(
        attempts=attempts, last_error=text, available_at=available_at, dispatched_at=available_at
    )
    if retry_in is None:
        logger.error("event %s (%s) failed %s times; giving up: %s", event.pk, event.topic, attempts, error)
    else:
        logger.warning(
            "event %s (%s) failed, attempt %s; retry in %ss: %s",
            event.pk,
            event.topic,
            attempts,
            retry_in.total_seconds(),
            error,
        )
    return attempts, retry_in


def _schedule_retry(event: OutboxEvent, attempts: int, retry_in: dt.timedelta) -> None:
    try:
        send([event.pk], countdown=retry_in.total_seconds())
    except Exception as error:
        logger.warning("event %s: retry %s not published (the relay sends it when due): %s", event.pk, attempts, error)
        OutboxEvent.objects.filter(pk=event.pk, processed_at__isnull=True).update(dispatched_at=None)


@app.task(
    name=HANDLE_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=20,
)
def handle_events(event_ids: list[int]) -> int:
    """The task: handle each event in turn; return how many were processed by this run."""
    return sum(bool(outcome) for outcome in handle_many([int(event_id) for event_id in event_ids]))


@app.task(name=RELAY_TASK, acks_late=True, ignore_result=True)
def relay_task() -> int:
    return relay()


@app.task(name=DELIVER_TASK, acks_late=True, ignore_result=True)
def deliver_due_task() -> int:
    """Send the notifications left pending (retries, a task that died before sending)."""
    started = time.monotonic()
    name = worker_id()
    sent = 0
    while time.monotonic() - started < SWEEP_SECONDS:
        done = notifications.deliver_batch(name, limit=100)
        sent += done
        if not done:
            break
    return sent
