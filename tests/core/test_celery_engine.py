"""The Celery worker engine against the real RabbitMQ (tests/core/celery_support.py; skipped without one, outside CI).

Events go to the broker after commit, a task delivered twice runs its handler
once, a failing handler is retried with a growing backoff, and events written
while the broker is away stay pending until the relay sends them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from kombu.exceptions import OperationalError

from yiwang.core import celery_engine, notifications, outbox
from yiwang.core.models import Notification, NotificationStatus, OutboxEvent, OutboxHandlerRun

from .celery_support import DOWN_BROKER_URL, Delivery, broker_url, consume, point_app_at
from .celery_support import celery_queue as celery_queue  # the fixture
from .test_settings import run_settings

TOPIC = "celerytest.happened"

pytestmark = pytest.mark.django_db


@pytest.fixture
def celery_engine_on(settings: Any) -> None:
    settings.WORKER_ENGINE = "celery"


@pytest.fixture
def calls() -> Iterator[list[int]]:
    """Handler runs, by event id; the handler fails while ``failures`` has entries left."""
    seen: list[int] = []
    yield seen


@pytest.fixture
def handler(calls: list[int]) -> Iterator[Callable[[OutboxEvent], None]]:
    failures: list[str] = []

    def record(event: OutboxEvent) -> None:
        calls.append(event.pk)
        if failures:
            raise RuntimeError(failures.pop())

    record.failures = failures  # type: ignore[attr-defined]
    outbox.handles(TOPIC)(record)
    yield record
    outbox.unregister(TOPIC, record)


def publish(capture: Any, n: int = 1) -> list[OutboxEvent]:
    with capture(execute=True), transaction.atomic():
        return outbox.publish_many([(TOPIC, {"n": i}, None) for i in range(n)])


def processed(*events: OutboxEvent) -> Callable[[list[Delivery]], bool]:
    ids = [event.pk for event in events]
    return lambda deliveries: OutboxEvent.objects.filter(pk__in=ids, processed_at__isnull=False).count() == len(ids)


@pytest.mark.usefixtures("celery_engine_on")
def test_events_are_published_after_commit_and_handled(
    celery_queue: str, handler: Any, calls: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        (event,) = outbox.publish_many([(TOPIC, {"n": 1}, None)])
        assert callbacks == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    callbacks[0]()  # the commit's callback: publishes to the broker

    deliveries = consume(celery_engine.app, celery_queue, until=processed(event))

    assert [(d.task, d.args) for d in deliveries] == [(celery_engine.HANDLE_TASK, [[event.pk]])]
    assert calls == [event.pk]
    event.refresh_from_db()
    assert event.processed_at is not None and event.attempts == 1 and event.dispatched_at is not None
    assert list(OutboxHandlerRun.objects.filter(event=event).values_list("handler", flat=True)) == [
        outbox.handler_key(handler)
    ]


@pytest.mark.usefixtures("celery_engine_on")
def test_a_task_delivered_twice_runs_its_handler_once(
    celery_queue: str, handler: Any, calls: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    (event,) = publish(django_capture_on_commit_callbacks)
    # The first delivery runs the task, then its worker is "lost" before the ack: the broker delivers again.
    deliveries = consume(
        celery_engine.app,
        celery_queue,
        until=lambda seen: any(d.redelivered for d in seen),
        hand_back=lambda delivery: not delivery.redelivered,
    )
    assert [(d.args, d.redelivered) for d in deliveries] == [([[event.pk]], False), ([[event.pk]], True)]
    assert calls == [event.pk]  # the redelivered task found the handler's run and skipped it
    assert OutboxHandlerRun.objects.filter(event=event).count() == 1
    event.refresh_from_db()
    assert event.processed_at is not None and event.attempts == 1


def test_handling_the_same_event_again_skips_finished_handlers(handler: Any, calls: list[int]) -> None:
    with transaction.atomic():
        event = outbox.publish(TOPIC, {"n": 1})
    assert celery_engine.handle(event.pk) is True
    assert celery_engine.handle(event.pk) is None
    # Even with the event made pending again (an administrator's retry), the finished handler stays done.
    OutboxEvent.objects.filter(pk=event.pk).update(processed_at=None)
    assert celery_engine.handle(event.pk) is True
    assert calls == [event.pk]


@pytest.mark.usefixtures("celery_engine_on")
def test_a_failing_handler_is_retried_with_growing_backoff(
    celery_queue: str,
    handler: Any,
    calls: list[int],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import datetime as dt

    monkeypatch.setattr(celery_engine, "RETRY_BASE", dt.timedelta(seconds=0.2))
    countdowns: list[float | None] = []
    real_send = celery_engine.send

    def spy(event_ids: list[int], *, countdown: float | None = None) -> None:
        countdowns.append(countdown)
        real_send(event_ids, countdown=countdown)

    monkeypatch.setattr(celery_engine, "send", spy)
    handler.failures.extend(["second failure", "first failure"])

    (event,) = publish(django_capture_on_commit_callbacks)
    deliveries = consume(celery_engine.app, celery_queue, until=processed(event))

    assert calls == [event.pk] * 3
    # The commit's publish, then a retry after 0.2 s and one after 0.4 s, each a message with an ETA.
    assert countdowns == [None, 0.2, 0.4]
    assert [d.eta is not None for d in deliveries] == [False, True, True]
    event.refresh_from_db()
    assert event.attempts == 3 and event.last_error == "" and event.processed_at is not None
    assert OutboxHandlerRun.objects.filter(event=event).count() == 1


def test_a_handler_that_keeps_failing_gives_up_after_max_attempts(
    handler: Any, calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from yiwang.core import leasing

    monkeypatch.setattr(celery_engine, "send", lambda event_ids, countdown=None: None)
    handler.failures.extend(["boom"] * leasing.MAX_ATTEMPTS)
    with transaction.atomic():
        event = outbox.publish(TOPIC, {"n": 1})
    for _ in range(leasing.MAX_ATTEMPTS):
        OutboxEvent.objects.filter(pk=event.pk).update(available_at=event.available_at)  # due again at once
        assert celery_engine.handle(event.pk) is False
    assert celery_engine.handle(event.pk) is None  # given up: an administrator retries it
    event.refresh_from_db()
    assert event.attempts == leasing.MAX_ATTEMPTS and "boom" in event.last_error and event.processed_at is None
    assert len(calls) == leasing.MAX_ATTEMPTS


@pytest.mark.usefixtures("celery_engine_on")
def test_events_written_while_the_broker_is_down_stay_pending_then_drain(
    celery_queue: str, handler: Any, calls: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    app = celery_engine.app
    point_app_at(app, DOWN_BROKER_URL, celery_queue)
    events = publish(django_capture_on_commit_callbacks, n=3)  # the commit's publish fails: no exception here
    assert OutboxEvent.objects.filter(pk__in=[e.pk for e in events], dispatched_at__isnull=True).count() == 3
    with pytest.raises(OperationalError):  # the relay cannot send them either
        celery_engine.relay()
    assert OutboxEvent.objects.filter(dispatched_at__isnull=True, processed_at__isnull=True).count() == 3
    assert calls == []

    point_app_at(app, broker_url(), celery_queue)  # the broker is back
    assert celery_engine.relay() == 3
    assert celery_engine.relay() == 0  # sent once
    consume(app, celery_queue, until=processed(*events))
    assert sorted(calls) == sorted(e.pk for e in events)


def test_notifications_queued_by_a_handler_are_delivered_by_the_same_task() -> None:
    sent: list[str] = []
    sms = notifications.unregister_channel(notifications.SMS)
    notifications.register_channel(notifications.SMS, lambda n: sent.append(n.body))

    def queue_sms(event: OutboxEvent) -> None:
        notifications.queue(
            dedupe_key=f"celerytest:{event.pk}",
            channel=notifications.SMS,
            template="celerytest",
            subject="测试",
            body=f"第{event.payload['n']}条",
            recipient_person_id=1,
            event=event,
        )

    outbox.handles(TOPIC)(queue_sms)
    try:
        with transaction.atomic():
            event = outbox.publish(TOPIC, {"n": 7})
        assert celery_engine.handle(event.pk) is True
    finally:
        outbox.unregister(TOPIC, queue_sms)
        notifications.unregister_channel(notifications.SMS)
        if sms is not None:
            notifications.restore_channel(sms)
    assert sent == ["第7条"]
    assert Notification.objects.get(dedupe_key=f"celerytest:{event.pk}").status == NotificationStatus.SENT


def test_delayed_events_wait_for_the_relay(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    settings.WORKER_ENGINE = "celery"
    sent: list[list[int]] = []
    monkeypatch.setattr(celery_engine, "send", lambda event_ids, countdown=None: sent.append(event_ids))
    with transaction.atomic():
        event = outbox.publish(TOPIC, {"n": 1}, delay=dt.timedelta(days=2))
    assert event.dispatched_at is None
    assert celery_engine.relay() == 0  # not due
    OutboxEvent.objects.filter(pk=event.pk).update(available_at=event.created_at)
    assert celery_engine.relay() == 1
    assert sent == [[event.pk]]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"YIWANG_WORKER_ENGINE": "rabbit"}, "YIWANG_WORKER_ENGINE must be one of embedded, celery"),
        ({"YIWANG_WORKER_ENGINE": "celery"}, "YIWANG_WORKER_ENGINE=celery needs YIWANG_BROKER_URL"),
        ({"YIWANG_BROKER_URL": "http://127.0.0.1:5672/"}, "YIWANG_BROKER_URL must start with one of"),
        ({"YIWANG_BROKER_URL": "amqp://"}, "YIWANG_BROKER_URL must name the broker's host"),
        ({"YIWANG_BROKER_URL": "amqp://h:port/"}, "YIWANG_BROKER_URL is not a valid URL"),
        ({"YIWANG_CELERY_QUEUE": "a queue"}, "YIWANG_CELERY_QUEUE must be"),
    ],
)
def test_bad_worker_engine_settings_refuse_to_start(env: dict[str, str], message: str) -> None:
    result = run_settings(env)
    assert result.returncode != 0
    assert message in result.stderr


def test_a_good_celery_setting_starts() -> None:
    result = run_settings({"YIWANG_WORKER_ENGINE": "celery", "YIWANG_BROKER_URL": "redis://127.0.0.1:6379/0"})
    assert result.returncode == 0, result.stderr


def test_the_embedded_worker_refuses_to_run_beside_celery(settings: Any) -> None:
    settings.WORKER_ENGINE = "celery"
    with pytest.raises(CommandError, match="yiwang celery-worker"):
        call_command("worker", "--once")


def test_the_celery_worker_needs_the_celery_engine() -> None:
    with pytest.raises(CommandError, match="YIWANG_WORKER_ENGINE=celery"):
        call_command("celery_worker")
