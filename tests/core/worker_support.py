"""A test-only app for the worker kill test, loaded only by tests/core/worker_settings.py.

* Each send on the ``in_app`` and ``sms`` channels sleeps
  ``YIWANG_TEST_SEND_DELAY`` seconds (default 0) *inside* the sender, so the
  test can kill the worker while a delivery transaction is open.
* Events of topic ``test.notify`` queue one message on in_app and sms for
  the user and person named in the payload, keyed by the payload's ``n``.
"""

from __future__ import annotations

import os
import time

from django.apps import AppConfig

SEND_DELAY_ENV = "YIWANG_TEST_SEND_DELAY"
TOPIC = "test.notify"


def subject_for(n: int) -> str:
    return f"测试通知#{n:04d}"


class WorkerTestConfig(AppConfig):
    name = "tests.core"
    label = "core_worker_tests"

    def ready(self) -> None:
        from yiwang.core import notifications, outbox
        from yiwang.core.models import Notification, OutboxEvent

        delay = float(os.environ.get(SEND_DELAY_ENV, "0"))
        for name in (notifications.IN_APP, notifications.SMS):
            channel = notifications.get_channel(name)
            assert channel is not None, f"channel {name} is not registered"

            def slow(notification: Notification, send: notifications.Sender = channel.sender) -> None:
                send(notification)
                time.sleep(delay)

            notifications.register_channel(name, slow, transactional=channel.transactional, reaches=channel.reaches)

        @outbox.handles(TOPIC)
        def queue_messages(event: OutboxEvent) -> None:
            n = int(event.payload["n"])
            notifications.notify(
                dedupe_key=f"kill-test:{n}",
                template="test.kill",
                subject=subject_for(n),
                body=f"第 {n} 条测试消息。",
                link=f"/messages/?n={n}",
                user_id=event.payload["user_id"],
                person_id=event.payload["person_id"],
                channels=(notifications.IN_APP, notifications.SMS),
                event=event,
            )
