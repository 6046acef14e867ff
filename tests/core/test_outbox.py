"""The event outbox: publishing inside the caller's transaction, handlers, retries with backoff, leases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from yiwang.core import leasing, notifications, outbox
from yiwang.core.leasing import BACKOFF_BASE, BACKOFF_CAP, MAX_ATTEMPTS
from yiwang.core.models import AuditEvent, Notification, OutboxEvent

TOPIC = "test.happened"


class Recorder:
    """A handler that remembers the events it saw and fails while ``failures`` is positive."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.failures = 0

    def __call__(self, event: OutboxEvent) -> None:
        self.seen.append(event.pk)
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("handler exploded")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    outbox.handles(TOPIC)(handler)
    yield handler
    outbox.unregister(TOPIC, handler)


def _publish(payload: dict[str, Any] | None = None, **kwargs: Any) -> OutboxEvent:
    with transaction.atomic():
        return outbox.publish(TOPIC, payload or {"n": 1}, **kwargs)


def _expire_leases() -> None:
    OutboxEvent.objects.update(locked_until=timezone.now() - dt.timedelta(seconds=1))


# --- publishing ------------------------------------------------------------------


def test_publish_outside_a_transaction_is_refused() -> None:
    # No database access is needed to refuse: the check comes first.
    with pytest.raises(outbox.OutboxError, match="transaction"):
        outbox.publish(TOPIC, {"n": 1})


@pytest.mark.django_db
@pytest.mark.parametrize("topic", ["", "nodot", "Case.Event", "case.", "case.event!", "a." + "b" * 70])
def test_publish_refuses_malformed_topics(topic: str) -> None:
    with transaction.atomic(), pytest.raises(ValueError):
        outbox.publish(topic, {})


@pytest.mark.django_db
def test_publish_refuses_a_payload_that_is_not_an_object_and_a_negative_delay() -> None:
    with transaction.atomic():
        with pytest.raises(TypeError):
            outbox.publish(TOPIC, ["not", "a", "dict"])  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            outbox.publish(TOPIC, {}, delay=dt.timedelta(seconds=-1))
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_events_of_a_rolled_back_transaction_are_never_delivered(recorder: Recorder) -> None:
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        outbox.publish(TOPIC, {"n": 1})
        1 / 0  # noqa: B018  (the change fails after publishing)
    assert outbox.process_batch("w1") == 0
    assert recorder.seen == []
    assert not OutboxEvent.objects.exists()


# --- handling ------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_handler_runs_once_and_the_event_is_marked_processed(recorder: Recorder) -> None:
    second = Recorder()
    outbox.handles(TOPIC)(second)
    try:
        event = _publish({"case_id": 7})
        assert outbox.process_batch("w1") == 1
        assert outbox.process_batch("w1") == 0
    finally:
        outbox.unregister(TOPIC, second)
    assert recorder.seen == [event.pk]
    assert second.seen == [event.pk]
    event.refresh_from_db()
    assert event.processed_at is not None
    assert (event.attempts, event.locked_by, event.locked_until, event.last_error) == (1, "", None, "")


@pytest.mark.django_db
def test_registering_the_same_handler_twice_runs_it_once(recorder: Recorder) -> None:
    outbox.handles(TOPIC)(recorder)
    assert outbox.handlers_for(TOPIC).count(recorder) == 1
    event = _publish()
    outbox.process_batch("w1")
    assert recorder.seen == [event.pk]


@pytest.mark.django_db
def test_an_event_without_handlers_is_marked_processed() -> None:
    with transaction.atomic():
        event = outbox.publish("test.nobody_listens", {})
    assert outbox.process_batch("w1") == 1
    event.refresh_from_db()
    assert event.processed_at is not None


@pytest.mark.django_db
def test_a_delayed_event_waits_until_it_is_due(recorder: Recorder) -> None:
    event = _publish(delay=dt.timedelta(hours=1))
    assert outbox.process_batch("w1") == 0
    OutboxEvent.objects.filter(pk=event.pk).update(available_at=timezone.now() - dt.timedelta(seconds=1))
    assert outbox.process_batch("w1") == 1
    assert recorder.seen == [event.pk]


@pytest.mark.django_db
def test_a_failing_handler_rolls_back_the_events_writes_records_the_error_and_retries_later() -> None:
    def queue_notification(event: OutboxEvent) -> None:
        notifications.queue(
            dedupe_key=f"outbox-test:{event.pk}",
            channel=notifications.IN_APP,
            template="test",
            subject="通知",
            body="正文",
            recipient_user_id=1,
            event=event,
        )

    failing = Recorder()
    failing.failures = 1
    # The writer runs first, then the failing handler: their writes must roll back together.
    outbox.handles(TOPIC)(queue_notification)
    outbox.handles(TOPIC)(failing)
    try:
        event = _publish()
        before = timezone.now()
        assert outbox.process_batch("w1") == 1
        after = timezone.now()
        event.refresh_from_db()
        assert event.processed_at is None
        assert event.attempts == 1
        assert "RuntimeError: handler exploded" in event.last_error
        assert before + BACKOFF_BASE <= event.available_at <= after + BACKOFF_BASE
        assert (event.locked_by, event.locked_until) == ("", None)
        assert not Notification.objects.filter(dedupe_key=f"outbox-test:{event.pk}").exists()

        # Not due yet: nothing happens on the next pass; once due, it succeeds.
        assert outbox.process_batch("w1") == 0
        OutboxEvent.objects.filter(pk=event.pk).update(available_at=timezone.now())
        assert outbox.process_batch("w1") == 1
    finally:
        outbox.unregister(TOPIC, queue_notification)
        outbox.unregister(TOPIC, failing)
    assert failing.seen == [event.pk, event.pk]
    event.refresh_from_db()
    assert event.processed_at is not None
    assert event.attempts == 2
    assert event.last_error == ""
    assert Notification.objects.filter(dedupe_key=f"outbox-test:{event.pk}", event=event).count() == 1


def test_backoff_doubles_from_the_base_and_is_capped() -> None:
    assert leasing.backoff(0) == dt.timedelta(0)
    assert leasing.backoff(1) == BACKOFF_BASE
    assert leasing.backoff(2) == 2 * BACKOFF_BASE
    assert leasing.backoff(3) == 4 * BACKOFF_BASE
    assert leasing.backoff(MAX_ATTEMPTS) == BACKOFF_CAP
    assert leasing.backoff(10_000) == BACKOFF_CAP


@pytest.mark.django_db
def test_after_the_last_attempt_the_event_stays_failed_and_visible_until_retried(recorder: Recorder) -> None:
    admin = _admin_user()
    event = _publish()
    OutboxEvent.objects.filter(pk=event.pk).update(attempts=MAX_ATTEMPTS - 1)
    recorder.failures = 1
    assert outbox.process_batch("w1") == 1
    event.refresh_from_db()
    assert event.attempts == MAX_ATTEMPTS
    assert event.processed_at is None
    assert "handler exploded" in event.last_error
    assert list(outbox.failed_events()) == [event]

    # Given up: even when due, no worker takes it again.
    OutboxEvent.objects.filter(pk=event.pk).update(available_at=timezone.now() - dt.timedelta(days=1))
    assert outbox.process_batch("w1") == 0

    assert outbox.retry_events([event.pk], actor=admin) == 1
    audit = AuditEvent.objects.filter(event=outbox.RETRY_EVENT).get()
    assert audit.actor == admin and audit.detail["ids"] == [event.pk]
    assert list(outbox.failed_events()) == []
    assert outbox.process_batch("w1") == 1
    event.refresh_from_db()
    assert event.processed_at is not None
    assert recorder.seen == [event.pk, event.pk]


@pytest.mark.django_db
def test_retrying_a_processed_event_changes_nothing() -> None:
    with transaction.atomic():
        event = outbox.publish("test.nobody_listens", {})
    outbox.process_batch("w1")
    assert outbox.retry_events([event.pk]) == 0
    assert not AuditEvent.objects.filter(event=outbox.RETRY_EVENT).exists()


# --- leases ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_worker_does_not_take_a_leased_event_but_takes_over_an_expired_lease(recorder: Recorder) -> None:
    event = _publish()
    assert outbox.claim_events("worker-a") == [event.pk]
    event.refresh_from_db()
    assert event.locked_by == "worker-a" and event.locked_until is not None

    assert outbox.claim_events("worker-b") == []
    assert outbox.process_batch("worker-b") == 0
    assert recorder.seen == []

    _expire_leases()
    assert outbox.process_batch("worker-b") == 1
    assert recorder.seen == [event.pk]


@pytest.mark.django_db
def test_a_worker_whose_lease_passed_to_another_does_not_handle_the_event(recorder: Recorder) -> None:
    event = _publish()
    outbox.claim_events("worker-a")
    _expire_leases()
    assert outbox.claim_events("worker-b") == [event.pk]
    # worker-a wakes up and goes on with the batch it claimed earlier.
    assert outbox._process_one(event.pk, worker_id="worker-a", lease=leasing.DEFAULT_LEASE) is False
    assert recorder.seen == []
    event.refresh_from_db()
    assert event.locked_by == "worker-b" and event.processed_at is None


@pytest.mark.django_db
def test_claims_take_the_oldest_due_events_up_to_the_limit() -> None:
    events = [_publish({"n": n}) for n in range(5)]
    assert outbox.claim_events("worker-a", limit=2) == [events[0].pk, events[1].pk]
    assert outbox.claim_events("worker-b", limit=10) == [e.pk for e in events[2:]]
    assert outbox.claim_events("worker-c", limit=10) == []


@pytest.mark.django_db
def test_stopping_mid_batch_releases_the_events_not_started(recorder: Recorder) -> None:
    events = [_publish({"n": n}) for n in range(3)]
    asked: list[bool] = []

    def stop_after_first() -> bool:
        asked.append(True)
        return len(asked) > 1

    assert outbox.process_batch("worker-a", stop=stop_after_first) == 1
    assert recorder.seen == [events[0].pk]
    assert set(OutboxEvent.objects.filter(processed_at__isnull=True).values_list("locked_by", flat=True)) == {""}
    # Released, not leased: another worker takes them at once.
    assert outbox.process_batch("worker-b") == 2


@pytest.mark.django_db
def test_release_leases_frees_what_a_worker_of_that_name_held() -> None:
    _publish()
    outbox.claim_events("worker-a")
    assert outbox.release_leases("worker-a") == 1
    assert outbox.claim_events("worker-b") != []


@pytest.mark.parametrize("worker_id", ["", "   ", "w" * 65])
def test_worker_names_must_fit_the_lease_column(worker_id: str) -> None:
    with pytest.raises(ValueError):
        outbox.process_batch(worker_id)


# --- the worker command ----------------------------------------------------------------


@pytest.mark.django_db
def test_worker_once_processes_events_then_delivers_their_notifications() -> None:
    user = _admin_user()

    def queue_in_app(event: OutboxEvent) -> None:
        notifications.queue(
            dedupe_key=f"cmd-test:{event.pk}",
            channel=notifications.IN_APP,
            template="test",
            subject="事件已处理",
            body="正文",
            recipient_user_id=user.pk,
            event=event,
        )

    outbox.handles(TOPIC)(queue_in_app)
    try:
        event = _publish()
        out = StringIO()
        call_command("worker", "--once", "--id", "cmd-test", stdout=out)
    finally:
        outbox.unregister(TOPIC, queue_in_app)
    assert "1 event(s), 1 notification(s)" in out.getvalue()
    notification = Notification.objects.get(dedupe_key=f"cmd-test:{event.pk}")
    assert notification.status == "sent"
    assert notification.in_app_message.user == user


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [["--poll", "0"], ["--batch", "0"], ["--per-transaction", "0"], ["--lease", "-1"], ["--id", "x" * 65]],
    ids=str,
)
def test_worker_refuses_bad_options(args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("worker", "--once", *args, stdout=StringIO())


def _admin_user() -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=f"outbox-admin-{timezone.now().timestamp()}")


# --- several events per transaction ---------------------------------------------------------------


def _notify(event: OutboxEvent) -> None:
    """A handler that writes a row per event (a notification), then fails for payloads marked ``fail``."""
    notifications.queue(
        dedupe_key=f"outbox-group:{event.pk}",
        channel=notifications.IN_APP,
        template="test",
        subject="通知",
        body="正文",
        recipient_user_id=1,
        event=event,
    )
    if event.payload.get("fail"):
        raise RuntimeError("this one exploded")


@pytest.fixture
def notifier() -> Iterator[None]:
    outbox.handles(TOPIC)(_notify)
    yield
    outbox.unregister(TOPIC, _notify)


@pytest.mark.django_db
def test_a_group_of_events_in_one_transaction_keeps_the_others_when_one_fails(notifier: None) -> None:
    events = [_publish({"n": n, "fail": n == 2}) for n in range(5)]
    assert outbox.process_batch("w1", per_transaction=5) == 5
    for event in events:
        event.refresh_from_db()
    failed, kept = events[2], events[:2] + events[3:]
    # The failed event's writes are undone (its savepoint), its error is recorded and it will be retried.
    assert failed.processed_at is None and failed.attempts == 1 and "this one exploded" in failed.last_error
    assert (failed.locked_by, failed.locked_until) == ("", None)
    assert not Notification.objects.filter(dedupe_key=f"outbox-group:{failed.pk}").exists()
    # Every other event of the group is handled once and marked.
    assert all(e.processed_at is not None and e.attempts == 1 and e.last_error == "" for e in kept)
    assert sorted(Notification.objects.values_list("dedupe_key", flat=True)) == sorted(
        f"outbox-group:{e.pk}" for e in kept
    )
    # Once fixed and due, the failed event alone runs again; nothing is doubled.
    OutboxEvent.objects.filter(pk=failed.pk).update(available_at=timezone.now(), payload={"n": 2})
    assert outbox.process_batch("w1", per_transaction=5) == 1
    failed.refresh_from_db()
    assert failed.processed_at is not None and failed.attempts == 2
    assert Notification.objects.count() == 5


@pytest.mark.django_db
def test_groups_run_every_handler_once_per_event_in_order(recorder: Recorder) -> None:
    events = [_publish({"n": n}) for n in range(7)]
    assert outbox.process_batch("w1", per_transaction=3) == 7
    assert recorder.seen == [e.pk for e in events]
    assert not OutboxEvent.objects.filter(processed_at__isnull=True).exists()
    assert outbox.process_batch("w1", per_transaction=3) == 0  # processed events are not handled again
    assert recorder.seen == [e.pk for e in events]


@pytest.mark.django_db
def test_a_group_that_fails_as_a_whole_is_handled_again_one_event_per_transaction(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [_publish({"n": n}) for n in range(3)]
    real_update = outbox.QuerySet.update
    calls = {"marks": 0}

    def failing_mark(self: Any, **values: Any) -> int:
        # The group's closing UPDATE (several events marked at once) fails, as a lost connection would.
        if "processed_at" in values and self.model is OutboxEvent and calls["marks"] == 0:
            calls["marks"] += 1
            raise RuntimeError("connection lost")
        return real_update(self, **values)

    monkeypatch.setattr(outbox.QuerySet, "update", failing_mark)
    assert outbox.process_batch("w1", per_transaction=3) == 3
    # The group's handlers ran and were rolled back, then each event ran again in a transaction of its own.
    assert recorder.seen == [e.pk for e in events] * 2
    for event in events:
        event.refresh_from_db()
        assert event.processed_at is not None and event.attempts == 1 and event.last_error == ""


@pytest.mark.django_db
def test_a_group_skips_events_whose_lease_passed_to_another_worker(recorder: Recorder) -> None:
    first, second = _publish(), _publish()
    assert outbox.claim_events("w1") == [first.pk, second.pk]
    OutboxEvent.objects.filter(pk=second.pk).update(locked_by="w2")
    OutboxEvent.objects.filter(pk=first.pk).update(locked_by="w1")
    from yiwang.core.outbox import _process_group

    assert _process_group([first.pk, second.pk], worker_id="w1", lease=leasing.DEFAULT_LEASE) == 1
    assert recorder.seen == [first.pk]


def test_per_transaction_must_be_positive() -> None:
    with pytest.raises(ValueError):
        outbox.process_batch("w1", per_transaction=0)


@pytest.mark.django_db
def test_publish_many_writes_every_event_with_its_delay_or_none() -> None:
    with pytest.raises(ValueError), transaction.atomic():
        outbox.publish_many([(TOPIC, {"n": 1}, None), ("Bad Topic", {"n": 2}, None)])
    assert not OutboxEvent.objects.exists()  # a bad one refuses the lot, before anything is written
    before = timezone.now()
    with transaction.atomic():
        now, later = outbox.publish_many([(TOPIC, {"n": 1}, None), (TOPIC, {"n": 2}, dt.timedelta(days=3))])
    assert now.pk is not None and later.pk is not None
    assert OutboxEvent.objects.get(pk=later.pk).available_at >= before + dt.timedelta(days=3)
    assert OutboxEvent.objects.get(pk=now.pk).available_at <= timezone.now()


def test_publish_many_outside_a_transaction_is_refused() -> None:
    with pytest.raises(outbox.OutboxError, match="transaction"):
        outbox.publish_many([(TOPIC, {"n": 1}, None), (TOPIC, {"n": 2}, None)])


@pytest.mark.django_db
def test_a_database_error_in_one_event_of_a_group_leaves_the_transaction_usable_for_the_others() -> None:
    def duplicate_notification(event: OutboxEvent) -> None:
        # Every event writes the same row: the second one breaks a unique constraint inside the database.
        Notification.objects.create(
            dedupe_key="outbox-group:same",
            channel=notifications.IN_APP,
            template="test",
            subject="通知",
            body="正文",
            recipient_user_id=1,
            event=event,
        )

    outbox.handles(TOPIC)(duplicate_notification)
    try:
        first, second, third = (_publish({"n": n}) for n in range(3))
        assert outbox.process_batch("w1", per_transaction=3) == 3
    finally:
        outbox.unregister(TOPIC, duplicate_notification)
    for event in (first, second, third):
        event.refresh_from_db()
    assert first.processed_at is not None
    assert second.processed_at is None and "IntegrityError" in second.last_error
    assert third.processed_at is None and "IntegrityError" in third.last_error
    assert Notification.objects.get().event_id == first.pk
