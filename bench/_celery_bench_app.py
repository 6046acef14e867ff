"""The Celery app of bench_outbox_celery.py's worker: the engine's app plus the bench's handler and SMS sink.

Imported by ``celery -A _celery_bench_app worker`` (bench/ on the path), with
the settings the bench gives it in the environment. The handler does what an
app's notification handler does: one text message per event to the person it
names, queued idempotently (``notifications.notify``), which the same task
then delivers to an in-memory SMS sink (a list in the worker process). The
recipient's mobile number comes from an in-memory resolver, standing in for
accounts' (one indexed read of the person in production).
"""

from __future__ import annotations

from yiwang.celery_app import app
from yiwang.core import notifications, outbox
from yiwang.core.models import Notification, OutboxEvent

TOPIC = "bench.notify"
SENT: list[str] = []


def _resolve(user_id: int | None, person_id: int | None) -> notifications.Recipient:
    return notifications.Recipient(user_id=user_id, person_id=person_id, mobile=f"139{person_id or 0:08d}")


def _sms_sink(notification: Notification) -> None:
    SENT.append(notification.dedupe_key)


@outbox.handles(TOPIC)
def notify_person(event: OutboxEvent) -> None:
    notifications.notify(
        dedupe_key=f"bench:{event.pk}",
        template="bench.notify",
        subject="办件进度提醒",
        body=f"您申请的事项（{event.payload['n']}）已受理，请留意后续通知。",
        person_id=int(event.payload["person_id"]),
        channels=(notifications.SMS,),
        event=event,
    )


notifications.register_recipient_resolver(_resolve)
notifications.register_channel(notifications.SMS, _sms_sink, reaches=lambda recipient: bool(recipient.mobile))

__all__ = ["app"]
