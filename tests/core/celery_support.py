"""The real RabbitMQ for the Celery engine's tests: a queue of the run's own, and a consumer that runs tasks.

``YIWANG_TEST_BROKER_URL`` names the broker (default the local RabbitMQ,
guest/guest). When none answers the tests are skipped with a message, except
with ``CI=true``, where they fail: CI must cover the Celery path, as it must
cover PostgreSQL.

:func:`consume` takes messages off the run's queue and runs their task in
this thread, inside the test's database transaction (an in-memory SQLite
test database cannot be shared with a worker thread): it acknowledges a
message after its task has run (late acks), or hands it back to the broker
to simulate a worker lost before acknowledging. It holds a message with an
ETA until its time, as a worker does.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kombu import Connection, Consumer, Message, Queue

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
# A port nothing listens on: the broker "down".
DOWN_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"


def broker_url() -> str:
    return os.environ.get("YIWANG_TEST_BROKER_URL", "").strip() or DEFAULT_BROKER_URL


def require_broker() -> str:
    url = broker_url()
    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
    except Exception as error:
        message = f"no RabbitMQ answers at {url} ({error}); set YIWANG_TEST_BROKER_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI must run the Celery tests against a broker")
        pytest.skip(f"SKIPPED: Celery engine tests: {message}, or run in CI where they are required")
    return url


def point_app_at(app: Any, url: str, queue: str) -> None:
    """Reconfigure the engine's Celery app (broker and queue); its connection pool is looked up again by URL."""
    app.conf.update(
        broker_url=url,
        task_default_queue=queue,
        task_default_routing_key=queue,
        # The run's queue disappears ten minutes after its last use, whatever happens to this process.
        task_queues=[Queue(queue, routing_key=queue, queue_arguments={"x-expires": 600_000})],
    )
    app._pool = None
    app.__dict__.pop("amqp", None)


@pytest.fixture
def celery_queue() -> Iterator[str]:
    """The engine's app on the real broker with a queue of this test's own; deleted afterwards."""
    from yiwang.core import celery_engine

    url = require_broker()
    app = celery_engine.app
    saved = {key: app.conf[key] for key in ("broker_url", "task_default_queue", "task_default_routing_key")}
    saved_queues = app.conf.task_queues
    name = f"yiwang-test-{uuid.uuid4().hex[:12]}"
    point_app_at(app, url, name)
    celery_engine._broker_paused_until = 0.0
    try:
        yield name
    finally:
        with Connection(url) as connection:
            Queue(name, queue_arguments={"x-expires": 600_000})(connection.default_channel).delete()
        app.conf.update(saved, task_queues=saved_queues)
        point_app_at(app, saved["broker_url"], saved["task_default_queue"])
        celery_engine._broker_paused_until = 0.0


@dataclass
class Delivery:
    task: str
    args: list[Any]
    eta: dt.datetime | None
    redelivered: bool


def consume(
    app: Any,
    queue: str,
    *,
    until: Callable[[list[Delivery]], bool],
    hand_back: Callable[[Delivery], bool] = lambda delivery: False,
    timeout: float = 15.0,
) -> list[Delivery]:
    """Run the queue's tasks here until ``until(deliveries so far)`` holds; return every delivery in order.

    ``hand_back(delivery)`` True: the task runs, then its message goes back
    to the broker unacknowledged (a worker lost before its ack).
    """
    deliveries: list[Delivery] = []

    def on_message(body: Any, message: Message) -> None:
        headers = message.headers
        eta = dt.datetime.fromisoformat(headers["eta"]) if headers.get("eta") else None
        delivery = Delivery(
            task=headers["task"],
            args=list(body[0]),
            eta=eta,
            redelivered=bool(message.delivery_info.get("redelivered")),
        )
        deliveries.append(delivery)
        if eta is not None:
            wait = (eta - dt.datetime.now(dt.UTC)).total_seconds()
            if wait > 0:
                time.sleep(wait)
        app.tasks[delivery.task](*body[0], **body[1])
        if hand_back(delivery):
            message.requeue()
        else:
            message.ack()

    deadline = time.monotonic() + timeout
    with Connection(app.conf.broker_url) as connection:
        declared = Queue(queue, routing_key=queue, queue_arguments={"x-expires": 600_000})
        with Consumer(connection, queues=[declared], callbacks=[on_message], accept=["json"], prefetch_count=1):
            while not until(deliveries):
                if time.monotonic() > deadline:
                    raise AssertionError(f"the queue did not bring what was awaited; deliveries: {deliveries}")
                try:
                    connection.drain_events(timeout=0.2)
                except TimeoutError:
                    continue
    return deliveries
