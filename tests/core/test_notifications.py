"""Notifications: idempotent queueing, channels, retries, leases, the message centre, and the worker kill test."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.accounts.factories import make_citizen, make_person
from tests.conftest import on_postgresql
from tests.core import worker_support
from tests.db_template import migrated_postgresql_database, migrated_sqlite_var_dir
from yiwang.accounts import notify as accounts_notify
from yiwang.accounts.models import SmsMessage, User
from yiwang.core import crypto, notifications
from yiwang.core.leasing import BACKOFF_BASE, MAX_ATTEMPTS
from yiwang.core.models import AuditEvent, InAppMessage, Notification, NotificationStatus
from yiwang.core.notifications import NotificationError

pytestmark = pytest.mark.django_db

SENT = NotificationStatus.SENT
PENDING = NotificationStatus.PENDING
FAILED = NotificationStatus.FAILED


def _queue(key: str = "n-1", channel: str = notifications.IN_APP, **kwargs: Any) -> Notification:
    values: dict[str, Any] = {"template": "test", "subject": "办件已受理", "body": "您的申请已受理。"}
    values.update(kwargs)
    return notifications.queue(dedupe_key=key, channel=channel, **values)


def _mobile_of(user: User) -> str:
    assert user.person is not None
    return crypto.decrypt(user.person.mobile_encrypted)


class FlakyChannel:
    """A test channel writing to our database (an InAppMessage), failing while ``failures`` is positive."""

    def __init__(self, *, fail_after_write: bool = True) -> None:
        self.failures = 0
        self.calls = 0
        self.fail_after_write = fail_after_write

    def __call__(self, notification: Notification) -> None:
        self.calls += 1
        if self.fail_after_write:
            InAppMessage.objects.create(
                notification=notification,
                user_id=notification.recipient_user_id,
                subject=notification.subject,
                body=notification.body,
            )
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("gateway timed out")


@pytest.fixture
def flaky() -> Iterator[FlakyChannel]:
    sender = FlakyChannel()
    notifications.register_channel("flaky", sender, transactional=True)
    yield sender
    notifications.unregister_channel("flaky")


@pytest.fixture
def citizen() -> User:
    return make_citizen("李四")


# --- queueing --------------------------------------------------------------------------


def test_queueing_the_same_key_twice_returns_the_first_row(citizen: User) -> None:
    first = _queue("case-event:1:in_app", recipient_user_id=citizen.pk, link="/cases/A1/")
    again = _queue("case-event:1:in_app", recipient_user_id=citizen.pk, subject="另一个标题")
    assert again.pk == first.pk
    assert again.subject == "办件已受理"
    assert Notification.objects.filter(dedupe_key="case-event:1:in_app").count() == 1
    assert first.status == PENDING and first.next_attempt_at is not None


def test_losing_the_insert_race_returns_the_winners_row_and_keeps_the_callers_transaction(
    citizen: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = _queue("race", recipient_user_id=citizen.pk, subject="先到的")
    manager = Notification.objects
    real_filter = manager.filter
    lookups: list[dict[str, Any]] = []

    def filter_that_misses_once(*args: Any, **kwargs: Any) -> Any:
        # The first lookup happens "before the other worker committed": it sees nothing.
        lookups.append(kwargs)
        return manager.none() if len(lookups) == 1 else real_filter(*args, **kwargs)

    monkeypatch.setattr(manager, "filter", filter_that_misses_once)
    with transaction.atomic():
        loser = _queue("race", recipient_user_id=citizen.pk, subject="后到的")
        # The unique index refused the insert inside a savepoint; the transaction goes on.
        assert real_filter(dedupe_key="race").count() == 1
    assert loser.pk == winner.pk and loser.subject == "先到的"
    assert len(lookups) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"key": ""}, "dedupe_key"),
        ({"key": "k" * 161}, "dedupe_key"),
        ({"channel": "pigeon"}, "unknown notification channel"),
        ({"recipient_user_id": None}, "recipient"),
        ({"template": ""}, "template"),
        ({"subject": "   "}, "subject"),
        ({"subject": "长" * 201}, "subject"),
        ({"body": " "}, "body"),
        ({"link": "https://evil.example/"}, "link"),
        ({"link": "//evil.example/"}, "link"),
        ({"link": "/\\evil.example/"}, "link"),
        ({"link": "/a b"}, "link"),
    ],
)
def test_queue_refuses_what_could_never_be_delivered(citizen: User, overrides: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"key": "bad", "channel": notifications.IN_APP, "recipient_user_id": citizen.pk}
    values.update(overrides)
    key = values.pop("key")
    channel = values.pop("channel")
    with pytest.raises(NotificationError, match=message):
        _queue(key, channel, **values)
    assert not Notification.objects.exists()


def test_notify_queues_one_notification_per_reachable_channel_once(citizen: User) -> None:
    assert citizen.person is not None
    kwargs: dict[str, Any] = {
        "dedupe_key": "case-event:9",
        "template": "case.accepted",
        "subject": "办件已受理",
        "body": "您的申请已受理。",
        "link": "/cases/A9/",
        "user_id": citizen.pk,
        "person_id": citizen.person.pk,
    }
    first = notifications.notify(**kwargs)
    assert [(n.channel, n.dedupe_key) for n in first] == [
        ("in_app", "case-event:9:in_app"),
        ("sms", "case-event:9:sms"),
    ]
    # An outbox handler run a second time queues nothing new.
    assert [n.pk for n in notifications.notify(**kwargs)] == [n.pk for n in first]
    assert Notification.objects.count() == 2


def test_notify_skips_channels_that_cannot_reach_the_recipient() -> None:
    person_without_mobile = make_person(with_mobile=False)
    person_without_account = make_person()
    assert notifications.reachable_channels(person_id=person_without_mobile.pk, among=["in_app", "sms"]) == []
    assert notifications.reachable_channels(person_id=person_without_account.pk, among=["in_app", "sms"]) == ["sms"]
    queued = notifications.notify(
        dedupe_key="x", template="t", subject="标题", body="正文", person_id=person_without_mobile.pk
    )
    assert queued == []


# --- recipients -----------------------------------------------------------------------------


def test_recipients_resolve_from_a_user_a_person_or_both(citizen: User) -> None:
    assert citizen.person is not None
    citizen.email = "lisi@example.cn"
    citizen.save()
    by_user = notifications.resolve_recipient(user_id=citizen.pk)
    by_person = notifications.resolve_recipient(person_id=citizen.person.pk)
    assert by_user == by_person
    assert by_user.user_id == citizen.pk
    assert by_user.person_id == citizen.person.pk
    assert by_user.mobile == _mobile_of(citizen)
    assert by_user.email == "lisi@example.cn"

    other = make_person()
    both = notifications.resolve_recipient(user_id=citizen.pk, person_id=other.pk)
    # In-app to the account given; text messages to the person given.
    assert both.user_id == citizen.pk
    assert both.mobile == crypto.decrypt(other.mobile_encrypted)


def test_inactive_and_unknown_recipients_are_reachable_nowhere(citizen: User) -> None:
    citizen.is_active = False
    citizen.save()
    assert citizen.person is not None
    assert notifications.resolve_recipient(user_id=citizen.pk).user_id is None
    # The person keeps their mobile number; only the account is unusable.
    assert notifications.resolve_recipient(person_id=citizen.person.pk).user_id is None
    assert notifications.resolve_recipient(user_id=999_999) == notifications.Recipient()
    assert notifications.resolve_recipient() == notifications.Recipient()


# --- delivery ---------------------------------------------------------------------------------


def test_in_app_delivery_creates_one_message_and_marks_the_notification_sent(citizen: User) -> None:
    notification = _queue(recipient_user_id=citizen.pk, link="/cases/A1/")
    assert notifications.deliver_batch("w1") == 1
    assert notifications.deliver_batch("w1") == 0
    notification.refresh_from_db()
    assert notification.status == SENT and notification.sent_at is not None
    assert (notification.attempts, notification.locked_by, notification.locked_until) == (1, "", None)
    message = InAppMessage.objects.get(notification=notification)
    assert (message.user, message.subject, message.link, message.read_at) == (
        citizen,
        "办件已受理",
        "/cases/A1/",
        None,
    )


def test_in_app_to_a_person_reaches_their_account(citizen: User) -> None:
    assert citizen.person is not None
    _queue(recipient_person_id=citizen.person.pk)
    notifications.deliver_batch("w1")
    assert InAppMessage.objects.get().user == citizen


def test_in_app_to_a_person_without_an_account_fails_at_once_without_retries() -> None:
    person = make_person()
    notification = _queue(recipient_person_id=person.pk)
    notifications.deliver_batch("w1")
    notification.refresh_from_db()
    assert notification.status == FAILED
    assert notification.attempts == 1 and notification.next_attempt_at is None
    assert "没有可用的账户" in notification.last_error
    assert not InAppMessage.objects.exists()


def test_sms_through_the_development_outbox_is_sent_in_the_marking_transaction(citizen: User) -> None:
    assert citizen.person is not None
    channel = notifications.get_channel(notifications.SMS)
    assert channel is not None and channel.sends_in_transaction()
    notification = _queue("sms-1", notifications.SMS, recipient_person_id=citizen.person.pk)
    notifications.deliver_batch("w1")
    notification.refresh_from_db()
    assert notification.status == SENT
    sms = SmsMessage.objects.get()
    assert sms.mobile_index == crypto.blind_index(_mobile_of(citizen), "mobile")
    assert sms.body == "【示范市一网通办】办件已受理：您的申请已受理。"


def test_sms_text_is_cut_to_the_outbox_column() -> None:
    notification = Notification(subject="标题", body="很长" * 400)
    text = accounts_notify.sms_text(notification)
    assert len(text) == accounts_notify.SMS_MAX_LENGTH and text.endswith("…")


def test_sms_to_a_person_without_a_mobile_number_fails_at_once() -> None:
    person = make_person(with_mobile=False)
    notification = _queue("sms-2", notifications.SMS, recipient_person_id=person.pk)
    notifications.deliver_batch("w1")
    notification.refresh_from_db()
    assert notification.status == FAILED and "手机号码" in notification.last_error
    assert not SmsMessage.objects.exists()


GATEWAY_CALLS: list[tuple[str, str, str | None]] = []


def gateway_with_key(mobile: str, body: str, *, idempotency_key: str | None = None) -> None:
    GATEWAY_CALLS.append((mobile, body, idempotency_key))


def legacy_gateway(mobile: str, body: str) -> None:
    GATEWAY_CALLS.append((mobile, body, None))


@pytest.mark.parametrize(
    ("backend", "expected_key"),
    [
        ("tests.core.test_notifications.gateway_with_key", "sms-gw"),
        ("tests.core.test_notifications.legacy_gateway", None),
    ],
)
def test_an_external_sms_gateway_gets_the_dedupe_key_as_idempotency_key_when_it_takes_one(
    citizen: User, settings: Any, backend: str, expected_key: str | None
) -> None:
    settings.SMS_BACKEND = backend
    GATEWAY_CALLS.clear()
    channel = notifications.get_channel(notifications.SMS)
    assert channel is not None and not channel.sends_in_transaction()
    notification = _queue("sms-gw", notifications.SMS, recipient_user_id=citizen.pk)
    notifications.deliver_batch("w1")
    notification.refresh_from_db()
    assert notification.status == SENT
    assert [(_mobile_of(citizen), "【示范市一网通办】办件已受理：您的申请已受理。", expected_key)] == GATEWAY_CALLS


def test_email_carries_the_dedupe_key_as_message_id_and_idempotency_key(citizen: User, settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "一网通办 <noreply@zwfw.example.cn>"
    settings.SITE_URL = "https://zwfw.example.cn"
    citizen.email = "lisi@example.cn"
    citizen.save()
    notification = _queue("case-event:5:email", notifications.EMAIL, recipient_user_id=citizen.pk, link="/cases/A5/")
    notifications.deliver_batch("w1")
    notification.refresh_from_db()
    assert notification.status == SENT
    [email] = mail.outbox
    assert email.to == ["lisi@example.cn"]
    assert email.subject == "办件已受理"
    assert "https://zwfw.example.cn/cases/A5/" in email.body
    message = email.message()
    assert message["Message-ID"] == "<case-event=3A5=3Aemail@zwfw.example.cn>"
    assert message["X-Idempotency-Key"] == "case-event:5:email"


def test_email_to_a_user_without_an_address_fails_at_once(citizen: User) -> None:
    notification = _queue("e-2", notifications.EMAIL, recipient_user_id=citizen.pk)
    notifications.deliver_batch("w1")
    notification.refresh_from_db()
    assert notification.status == FAILED and "电子邮箱" in notification.last_error
    assert mail.outbox == []


def test_a_failed_send_rolls_back_its_database_write_and_is_retried_with_backoff(
    citizen: User, flaky: FlakyChannel
) -> None:
    flaky.failures = 1
    notification = _queue("flaky-1", "flaky", recipient_user_id=citizen.pk)
    before = timezone.now()
    assert notifications.deliver_batch("w1") == 1
    after = timezone.now()
    notification.refresh_from_db()
    assert notification.status == PENDING
    assert notification.attempts == 1
    assert "ConnectionError: gateway timed out" in notification.last_error
    assert notification.next_attempt_at is not None
    assert before + BACKOFF_BASE <= notification.next_attempt_at <= after + BACKOFF_BASE
    # The sink write happened inside the failed transaction: it is gone.
    assert not InAppMessage.objects.exists()

    assert notifications.deliver_batch("w1") == 0
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    assert notifications.deliver_batch("w1") == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == (SENT, 2, "")
    assert InAppMessage.objects.filter(notification=notification).count() == 1


def test_after_the_last_attempt_a_notification_is_failed_until_an_administrator_retries(
    citizen: User, flaky: FlakyChannel
) -> None:
    admin = User.objects.create_user(username="notify-admin", is_staff=True, is_superuser=True)
    flaky.failures = 1
    notification = _queue("flaky-2", "flaky", recipient_user_id=citizen.pk)
    Notification.objects.filter(pk=notification.pk).update(attempts=MAX_ATTEMPTS - 1)
    notifications.deliver_batch("w1")
    notification.refresh_from_db()
    assert notification.status == FAILED and notification.attempts == MAX_ATTEMPTS
    assert list(notifications.failed_notifications()) == [notification]

    assert notifications.retry_notifications([notification.pk], actor=admin) == 1
    assert AuditEvent.objects.filter(event=notifications.RETRY_EVENT, actor=admin).count() == 1
    notifications.deliver_batch("w1")
    notification.refresh_from_db()
    assert notification.status == SENT and notification.attempts == 1
    # A sent notification cannot be "retried" into a second delivery.
    assert notifications.retry_notifications([notification.pk], actor=admin) == 0


def test_a_notification_for_a_channel_not_registered_in_this_worker_is_retried(citizen: User) -> None:
    notifications.register_channel("later", lambda n: None)
    notification = _queue("later-1", "later", recipient_user_id=citizen.pk)
    notifications.unregister_channel("later")
    notifications.deliver_batch("w1")
    notification.refresh_from_db()
    assert notification.status == PENDING and notification.attempts == 1
    assert "not registered" in notification.last_error


def test_a_leased_notification_is_left_alone_until_its_lease_expires(citizen: User) -> None:
    notification = _queue(recipient_user_id=citizen.pk)
    assert notifications.claim_notifications("worker-a") == [notification.pk]
    assert notifications.deliver_batch("worker-b") == 0
    assert not InAppMessage.objects.exists()

    Notification.objects.update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert notifications.deliver_batch("worker-b") == 1
    assert InAppMessage.objects.filter(notification=notification).count() == 1
    # worker-a comes back to the batch it claimed: the notification is no longer its own.
    assert notifications._deliver_one(notification.pk, worker_id="worker-a", lease=dt.timedelta(seconds=60)) is False
    assert InAppMessage.objects.count() == 1


def test_stopping_mid_batch_releases_the_notifications_not_started(citizen: User) -> None:
    for n in range(3):
        _queue(f"stop-{n}", recipient_user_id=citizen.pk)
    answers = iter([False, True])
    assert notifications.deliver_batch("worker-a", stop=lambda: next(answers)) == 1
    assert set(Notification.objects.filter(status=PENDING).values_list("locked_by", flat=True)) == {""}
    assert notifications.deliver_batch("worker-b") == 2


def test_administrators_see_failed_notifications_and_events_and_can_retry_them(
    citizen: User, flaky: FlakyChannel
) -> None:
    flaky.failures = 1
    notification = _queue("admin-1", "flaky", recipient_user_id=citizen.pk, subject="发送失败的通知")
    Notification.objects.filter(pk=notification.pk).update(attempts=MAX_ATTEMPTS - 1)
    notifications.deliver_batch("w1")
    admin = User.objects.create_user(username="notify-root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)

    listing = client.get("/admin/core/notification/", {"status__exact": "failed"})
    assert listing.status_code == 200
    assert "发送失败的通知" in listing.content.decode()
    assert client.get("/admin/core/outboxevent/", {"state": "failed"}).status_code == 200
    assert client.get(f"/admin/core/notification/{notification.pk}/change/").status_code == 200

    response = client.post("/admin/core/notification/", {"action": "retry", "_selected_action": [str(notification.pk)]})
    assert response.status_code == 302
    notification.refresh_from_db()
    assert notification.status == PENDING and notification.attempts == 0


def test_the_notification_admin_is_closed_to_other_staff(citizen: User) -> None:
    staff = User.objects.create_user(username="notify-staff", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/core/notification/").status_code == 403
    assert client.get("/admin/core/outboxevent/").status_code == 403


# --- the message centre -------------------------------------------------------------------------


def _deliver_messages(user: User, count: int, *, link: str = "") -> list[InAppMessage]:
    for n in range(count):
        _queue(f"mc-{user.pk}-{n}", recipient_user_id=user.pk, subject=f"消息{n}", link=link)
    while notifications.deliver_batch("mc"):
        pass
    return list(InAppMessage.objects.filter(user=user).order_by("id"))


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_message_centre_needs_a_login() -> None:
    for url in (reverse("core:messages"), reverse("core:message", args=[1])):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_the_message_centre_lists_only_ones_own_messages_newest_first_with_unread_marked(citizen: User) -> None:
    other = make_citizen("王五")
    mine = _deliver_messages(citizen, 3)
    _deliver_messages(other, 2)
    notifications.mark_read(mine[0])
    response = _client(citizen).get(reverse("core:messages"))
    assert response.status_code == 200
    page = response.context["page"]
    assert [m.pk for m in page.object_list] == [m.pk for m in reversed(mine)]
    assert response.context["unread"] == 2
    html = response.content.decode()
    assert html.count('class="status status-active"') == 2
    assert "消息（2条未读）" in html  # the header
    assert "共 3 条消息" in html


def test_the_message_centre_paginates(citizen: User) -> None:
    _deliver_messages(citizen, 25)
    client = _client(citizen)
    first = client.get(reverse("core:messages"))
    second = client.get(reverse("core:messages"), {"page": 2})
    assert len(first.context["page"].object_list) == 20
    assert len(second.context["page"].object_list) == 5
    assert 'rel="next"' in first.content.decode()


def test_opening_a_message_marks_it_read_and_follows_its_link(citizen: User) -> None:
    [message] = _deliver_messages(citizen, 1, link="/cases/A1/?tab=progress")
    response = _client(citizen).get(reverse("core:message", args=[message.pk]))
    assert response.status_code == 302 and response["Location"] == "/cases/A1/?tab=progress"
    message.refresh_from_db()
    first_read = message.read_at
    assert first_read is not None
    _client(citizen).get(reverse("core:message", args=[message.pk]))
    message.refresh_from_db()
    assert message.read_at == first_read


def test_opening_a_message_without_a_link_shows_it(citizen: User) -> None:
    [message] = _deliver_messages(citizen, 1)
    response = _client(citizen).get(reverse("core:message", args=[message.pk]))
    assert response.status_code == 200
    assert "消息0" in response.content.decode()
    message.refresh_from_db()
    assert message.read_at is not None


def test_a_link_to_another_host_is_never_followed(citizen: User) -> None:
    [message] = _deliver_messages(citizen, 1)
    # Written past queue()'s check, as a bad migration or a shell might.
    InAppMessage.objects.filter(pk=message.pk).update(link="https://evil.example/")
    response = _client(citizen).get(reverse("core:message", args=[message.pk]))
    assert response.status_code == 200
    assert "evil.example" not in response.content.decode()


def test_another_users_message_is_not_found_and_stays_unread(citizen: User) -> None:
    other = make_citizen("王五")
    [theirs] = _deliver_messages(other, 1)
    response = _client(citizen).get(reverse("core:message", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_all_read_needs_a_post_and_touches_only_ones_own(citizen: User) -> None:
    other = make_citizen("王五")
    _deliver_messages(citizen, 2)
    _deliver_messages(other, 1)
    client = _client(citizen)
    assert client.get(reverse("core:messages_read_all")).status_code == 405
    response = client.post(reverse("core:messages_read_all"))
    assert response.status_code == 302 and response["Location"] == reverse("core:messages")
    assert not InAppMessage.objects.filter(user=citizen, read_at__isnull=True).exists()
    assert InAppMessage.objects.filter(user=other, read_at__isnull=True).count() == 1
    assert Client().post(reverse("core:messages_read_all")).status_code == 302  # to the login page


# --- the kill test: a real worker process killed with SIGKILL mid-delivery -------------------------

REPO_DIR = Path(__file__).resolve().parents[2]
YIWANG = Path(sys.executable).with_name("yiwang")
KILL_TEST_EVENTS = 100  # each queues an in_app and an sms notification: 200 in all
SEND_DELAY_SECONDS = 0.05
SENT_BEFORE_KILL = 30
WAIT_LIMIT_SECONDS = 180.0
SUBJECT_RE = re.compile(r"测试通知#\d{4}")

KILL_TEST_SETUP = """
from django.db import transaction
from yiwang.accounts import services
from yiwang.accounts.constants import AssuranceLevel, AssuranceMethod
from yiwang.accounts.models import User
from yiwang.core import outbox
from yiwang.core.identifiers import DocumentType, make_resident_id

recipients = []
for n in range(4):
    person = services.create_person(
        name="测试",
        document_type=DocumentType.RESIDENT_ID,
        document_number=make_resident_id("990102", "19850101", f"{n:03d}"),
        mobile=f"1390000{n:04d}",
        assurance_level=AssuranceLevel.MOBILE_VERIFIED,
        assurance_method=AssuranceMethod.SMS,
    )
    recipients.append((User.objects.create_user(username=f"kill{n}", person=person).pk, person.pk))
with transaction.atomic():
    for n in range(EVENTS):
        user_id, person_id = recipients[n % len(recipients)]
        outbox.publish("test.notify", {"n": n, "user_id": user_id, "person_id": person_id})
"""


@dataclass
class WorkerDatabase:
    """The kill test's own database, which the worker processes use and the test reads with plain SQL."""

    env: dict[str, str]
    query: Callable[[str], list[tuple[Any, ...]]]


@contextmanager
def _sqlite_database(var_dir: Path) -> Iterator[WorkerDatabase]:
    path = var_dir / "kill-test.sqlite3"
    # A copy of the suite's one migrated SQLite database; the test's own ``yiwang migrate`` then finds the schema
    # current, as it would on a deployment upgraded in place.
    shutil.copyfile(migrated_sqlite_var_dir() / "yiwang.sqlite3", path)

    def query(sql: str) -> list[tuple[Any, ...]]:
        # A fresh connection per query, so that no read snapshot is held while the workers write.
        with closing(sqlite3.connect(path, timeout=10)) as connection:
            return connection.execute(sql).fetchall()

    yield WorkerDatabase({"DATABASE_URL": f"sqlite:///{path}"}, query)


@contextmanager
def _postgresql_database() -> Iterator[WorkerDatabase]:
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = f"yiwang_kill_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    own_url = url.rsplit("/", 1)[0] + "/" + name
    # A copy of the suite's one migrated PostgreSQL database; the test's ``yiwang migrate`` then finds it current.
    migrated_postgresql_database(url, name)

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(own_url, autocommit=True) as connection:
            return connection.execute(sql).fetchall()  # type: ignore[arg-type]

    try:
        yield WorkerDatabase({"DATABASE_URL": own_url}, query)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def worker_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WorkerDatabase]:
    if request.param == "postgresql":
        if not on_postgresql():
            pytest.skip("the PostgreSQL run of the kill test needs DATABASE_URL=postgresql://…")
        factory = _postgresql_database()
    else:
        factory = _sqlite_database(tmp_path)
    with factory as database:
        yield database


def _worker_env(var_dir: Path, database: WorkerDatabase) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "YIWANG_MODE", "DJANGO_SETTINGS_MODULE"}}
    env.update(database.env)
    env["YIWANG_VAR_DIR"] = str(var_dir)
    env["DJANGO_SETTINGS_MODULE"] = "tests.core.worker_settings"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), os.environ.get("PYTHONPATH", "")]))
    env[worker_support.SEND_DELAY_ENV] = str(SEND_DELAY_SECONDS)
    return env


def _yiwang(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(YIWANG), *args], env=env, cwd=REPO_DIR, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"yiwang {args[0]} failed:\n{result.stdout}\n{result.stderr}"


def _start_worker(name: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    with (log_dir / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [str(YIWANG), "worker", "--id", name, "--lease", "2", "--poll", "0.2", "--batch", "20"],
            env=env,
            cwd=REPO_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _logs(log_dir: Path) -> str:
    return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in log_dir.glob("*.log"))


def _wait_until(condition: Callable[[], bool], workers: list[subprocess.Popen[bytes]], log_dir: Path) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not condition():
        for worker in workers:
            assert worker.poll() is None, f"a worker exited with {worker.returncode}:\n{_logs(log_dir)}"
        assert time.monotonic() < deadline, f"gave up waiting after {WAIT_LIMIT_SECONDS:.0f}s:\n{_logs(log_dir)}"
        time.sleep(0.05)


def _sent(database: WorkerDatabase) -> int:
    return int(database.query("SELECT COUNT(*) FROM core_notification WHERE status = 'sent'")[0][0])


def _check_each_delivered_exactly_when_sent(database: WorkerDatabase) -> dict[str, int]:
    """Every sent notification has exactly one sink row; every other has none. Returns the status counts."""
    in_app = Counter(row[0] for row in database.query("SELECT notification_id FROM core_inappmessage"))
    sms_bodies = database.query("SELECT body FROM accounts_smsmessage")
    sms = Counter(subject for (body,) in sms_bodies for subject in SUBJECT_RE.findall(body))
    statuses: Counter[str] = Counter()
    for notification_id, channel, status, subject in database.query(
        "SELECT id, channel, status, subject FROM core_notification"
    ):
        statuses[status] += 1
        sink, key = (in_app, notification_id) if channel == "in_app" else (sms, subject)
        assert sink[key] == (1 if status == "sent" else 0), (notification_id, channel, status, sink[key])
        # Consumed, so that a sink row without a notification shows up below.
        sink.pop(key, None)
    assert not in_app and not sms, f"sink rows without a sent notification: {in_app} {sms}"
    return dict(statuses)


@pytest.mark.slow
@pytest.mark.skipif(not YIWANG.exists(), reason="the yiwang console script is not installed beside this Python")
def test_a_worker_killed_mid_delivery_leaves_every_notification_delivered_exactly_once(
    worker_database: WorkerDatabase, tmp_path: Path
) -> None:
    var_dir = tmp_path / "var"
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    env = _worker_env(var_dir, worker_database)
    _yiwang(["migrate", "--noinput"], env)
    _yiwang(["shell", "-c", KILL_TEST_SETUP.replace("EVENTS", str(KILL_TEST_EVENTS))], env)
    total = 2 * KILL_TEST_EVENTS

    first = _start_worker("first", env, log_dir)
    try:
        _wait_until(lambda: _sent(worker_database) >= SENT_BEFORE_KILL, [first], log_dir)
    finally:
        first.kill()  # SIGKILL: no chance to finish the transaction in hand or release anything
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL

    after_kill = _check_each_delivered_exactly_when_sent(worker_database)
    assert 0 < after_kill.get("sent", 0) < total, after_kill

    # Two workers start again: they take over the dead one's leases once they expire, and share the rest.
    workers = [_start_worker(name, env, log_dir) for name in ("second-a", "second-b")]
    try:
        _wait_until(
            lambda: (
                _sent(worker_database) == total
                and not worker_database.query("SELECT id FROM core_outboxevent WHERE processed_at IS NULL")
            ),
            workers,
            log_dir,
        )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)
    assert [worker.returncode for worker in workers] == [0, 0], _logs(log_dir)
    assert "stopped (SIGTERM)" in (log_dir / "second-a.log").read_text()

    assert _check_each_delivered_exactly_when_sent(worker_database) == {"sent": total}
    in_app_rows = worker_database.query("SELECT COUNT(*) FROM core_inappmessage")[0][0]
    sms_rows = worker_database.query("SELECT COUNT(*) FROM accounts_smsmessage")[0][0]
    assert (in_app_rows, sms_rows) == (KILL_TEST_EVENTS, KILL_TEST_EVENTS)
    # Handlers re-run after the kill found their notifications already queued.
    keys = worker_database.query("SELECT COUNT(DISTINCT dedupe_key), COUNT(*) FROM core_notification")[0]
    assert tuple(keys) == (total, total)
