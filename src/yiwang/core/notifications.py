"""Notifications: one message to one recipient on one channel, queued idempotently, delivered by workers.

Queueing. :func:`queue` creates one :class:`~yiwang.core.models.Notification`
per ``dedupe_key``; asking again with the same key returns the existing row,
even when two workers ask at the same moment (the key is unique in the
database). :func:`notify` queues the same message on several channels for a
user and/or a person, which is what an app's outbox handler usually wants.

Channels. A channel is a name and a sender ``send(notification)``, registered
with :func:`register_channel`. Core registers ``in_app`` (the message centre,
/messages/) and ``email`` (Django's email backend); accounts registers
``sms``, and the recipient resolver that turns a user id and/or a person id
into an account, a mobile number and an email address
(:func:`register_recipient_resolver`), because core cannot read accounts.

Exactly once. Delivery depends on where the message ends up:

* A *transactional* channel writes into our own database (``in_app``
  creates an InAppMessage; the development SMS backend writes SmsMessage
  rows). Its sender runs inside the transaction that marks the notification
  sent, so a worker killed at any point has done both or neither, and the
  next worker sends what is left. Delivery is exactly once.
* Any other channel (email through an SMTP server, a carrier's SMS gateway)
  is called outside a transaction, and the notification is marked sent
  afterwards. A worker killed between the two sends again later. Each send
  carries the notification's dedupe key as the provider's idempotency key
  (:func:`idempotency_key`; as the email's Message-ID, :func:`message_id`),
  so delivery is exactly once only if the provider discards a repeated key;
  otherwise it is at least once.

A sender that fails is retried with exponential backoff
(:func:`yiwang.core.leasing.backoff`); a sender that knows retrying cannot
help (no account, no mobile number) raises :class:`PermanentDeliveryError`.
After :data:`~yiwang.core.leasing.MAX_ATTEMPTS` failures, or one permanent
failure, the notification is FAILED and stays listed in the admin, with its
last error, until an administrator retries it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from . import leasing
from .audit import record_event
from .leasing import DEFAULT_LEASE, MAX_ATTEMPTS, StopCheck
from .models import InAppMessage, Notification, NotificationStatus, OutboxEvent
from .observability import request_id_context

logger = logging.getLogger("yiwang.notifications")

IN_APP = "in_app"
EMAIL = "email"
SMS = "sms"
# What notify() sends on when the caller names no channels: the message centre, and a text message.
DEFAULT_CHANNELS = (IN_APP, SMS)
RETRY_EVENT = "notification.retry"


def _max_length(field_name: str) -> int:
    field = Notification._meta.get_field(field_name)
    assert isinstance(field, models.CharField) and field.max_length is not None
    return field.max_length


DEDUPE_KEY_MAX_LENGTH = _max_length("dedupe_key")
CHANNEL_MAX_LENGTH = _max_length("channel")
TEMPLATE_MAX_LENGTH = _max_length("template")
SUBJECT_MAX_LENGTH = _max_length("subject")
LINK_MAX_LENGTH = _max_length("link")
ERROR_MAX_LENGTH = 4000
_MESSAGE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# While an outbox handler runs under the Celery engine: the ids of the notifications it queued, delivered by
# the same task once the handler's transaction has committed (see collecting() and deliver_now()).
_collected: ContextVar[list[int] | None] = ContextVar("notifications_collected", default=None)


class NotificationError(ValueError):
    """A notification was queued with values that can never be delivered."""


class PermanentDeliveryError(Exception):
    """Raised by a sender when retrying cannot help (no account, no address): the notification fails at once."""


# --- recipients -----------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Where one recipient can be reached; empty values mean "not on this channel"."""

    user_id: int | None = None
    person_id: int | None = None
    mobile: str = ""
    email: str = ""


RecipientResolver = Callable[[int | None, int | None], Recipient | None]


def _resolve_with_user_model(user_id: int | None, person_id: int | None) -> Recipient | None:
    # Core's own fallback knows accounts only as AUTH_USER_MODEL: an active user and its email.
    if user_id is None:
        return None
    user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    return Recipient(user_id=user.pk, person_id=person_id, email=getattr(user, "email", "") or "")


_resolver: RecipientResolver = _resolve_with_user_model


def register_recipient_resolver(resolver: RecipientResolver) -> None:
    """Install the function ``resolver(user_id, person_id) -> Recipient | None`` (accounts does, at start-up)."""
    global _resolver
    _resolver = resolver


def resolve_recipient(*, user_id: int | None = None, person_id: int | None = None) -> Recipient:
    """Where the user and/or person can be reached now; an empty Recipient when nowhere.

    With both ids, the user's account receives in-app messages and the
    person's own mobile number receives text messages.
    """
    if user_id is None and person_id is None:
        return Recipient()
    return _resolver(user_id, person_id) or Recipient(person_id=person_id)


# --- channels ---------------------------------------------------------------------------

Sender = Callable[[Notification], None]


@dataclass(frozen=True)
class Channel:
    """A registered channel; see :func:`register_channel`."""

    name: str
    sender: Sender
    transactional: bool | Callable[[], bool] = False
    reaches: Callable[[Recipient], bool] | None = None

    def sends_in_transaction(self) -> bool:
        """Whether the sender writes only to our database (decided per send: settings may change the backend)."""
        return self.transactional() if callable(self.transactional) else self.transactional


_channels: dict[str, Channel] = {}


def register_channel(
    name: str,
    sender: Sender,
    *,
    transactional: bool | Callable[[], bool] = False,
    reaches: Callable[[Recipient], bool] | None = None,
) -> Channel:
    """Register (or replace) the channel ``name`` with its ``sender(notification)``.

    ``transactional`` says the sender writes only to our own database, so it
    runs inside the transaction that marks the notification sent; it may be
    a function, asked at each send. Any other sender is called outside a
    transaction and must pass :func:`idempotency_key` to its provider.
    ``reaches(recipient)`` tells :func:`reachable_channels` whether the
    channel can reach someone (default: anyone).
    """
    if not name or len(name) > CHANNEL_MAX_LENGTH:
        raise ValueError(f"channel names are 1–{CHANNEL_MAX_LENGTH} characters: {name!r}")
    channel = Channel(name=name, sender=sender, transactional=transactional, reaches=reaches)
    _channels[name] = channel
    return channel


def unregister_channel(name: str) -> Channel | None:
    """Remove a channel and return it (tests put it back with :func:`restore_channel`)."""
    return _channels.pop(name, None)


def restore_channel(channel: Channel) -> None:
    """Register a channel object returned by :func:`unregister_channel` or :func:`get_channel` again."""
    _channels[channel.name] = channel


def get_channel(name: str) -> Channel | None:
    return _channels.get(name)


def channel_names() -> list[str]:
    return sorted(_channels)


def reachable_channels(
    *, user_id: int | None = None, person_id: int | None = None, among: Iterable[str] | None = None
) -> list[str]:
    """The registered channels (of ``among``, in its order) that can reach the user and/or person now."""
    recipient = resolve_recipient(user_id=user_id, person_id=person_id)
    names = list(among) if among is not None else channel_names()
    found = []
    for name in names:
        channel = _channels.get(name)
        if channel is not None and (channel.reaches is None or channel.reaches(recipient)):
            found.append(name)
    return found


def idempotency_key(notification: Notification) -> str:
    """The key an external provider should use to discard a repeated send: the notification's dedupe key."""
    return notification.dedupe_key


def message_id(notification: Notification) -> str:
    """A stable RFC 5322 Message-ID made from the dedupe key, the same on every worker and every retry."""
    local = _MESSAGE_ID_UNSAFE.sub(lambda match: f"={ord(match.group()):02X}", notification.dedupe_key)
    return f"<{local}@{_mail_domain()}>"


def _mail_domain() -> str:
    sender = str(getattr(settings, "DEFAULT_FROM_EMAIL", "") or "")
    domain = sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else ""
    return domain or "yiwang.invalid"


# --- queueing -----------------------------------------------------------------------------


def queue(
    *,
    dedupe_key: str,
    channel: str,
    template: str,
    subject: str,
    body: str,
    link: str = "",
    recipient_user_id: int | None = None,
    recipient_person_id: int | None = None,
    event: OutboxEvent | None = None,
) -> Notification:
    """Queue one message for delivery, or return the notification already queued under ``dedupe_key``.

    Idempotent: the first call's values are kept and later calls with the
    same key change nothing, so outbox handlers may run twice. Safe against
    concurrent callers (the key is unique in the database). ``link`` is a
    path on this site (``/cases/…``). Raises :class:`NotificationError` for
    values that could never be delivered.
    """
    dedupe_key = (dedupe_key or "").strip()
    if not dedupe_key or len(dedupe_key) > DEDUPE_KEY_MAX_LENGTH:
        raise NotificationError(f"dedupe_key must be 1–{DEDUPE_KEY_MAX_LENGTH} characters")
    existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing
    if channel not in _channels:
        raise NotificationError(f"unknown notification channel {channel!r}; registered: {channel_names()}")
    if recipient_user_id is None and recipient_person_id is None:
        raise NotificationError("a notification needs recipient_user_id or recipient_person_id")
    if not template or len(template) > TEMPLATE_MAX_LENGTH:
        raise NotificationError(f"template must be 1–{TEMPLATE_MAX_LENGTH} characters")
    subject = " ".join((subject or "").split())
    if not subject or len(subject) > SUBJECT_MAX_LENGTH:
        raise NotificationError(f"subject must be 1–{SUBJECT_MAX_LENGTH} characters")
    if not (body or "").strip():
        raise NotificationError("body must not be empty")
    if link and (len(link) > LINK_MAX_LENGTH or not is_site_path(link)):
        raise NotificationError("link must be a path on this site, such as /cases/…")
    try:
        # A savepoint: losing the race must not break the caller's transaction.
        with transaction.atomic():
            created = Notification.objects.create(
                dedupe_key=dedupe_key,
                event=event,
                channel=channel,
                recipient_user_id=recipient_user_id,
                recipient_person_id=recipient_person_id,
                template=template,
                subject=subject,
                body=body,
                link=link,
                next_attempt_at=timezone.now(),
            )
        if (collected := _collected.get()) is not None:
            collected.append(created.pk)
        return created
    except IntegrityError:
        existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
        if existing is None:
            raise
        return existing


def notify(
    *,
    dedupe_key: str,
    template: str,
    subject: str,
    body: str,
    link: str = "",
    user_id: int | None = None,
    person_id: int | None = None,
    channels: Sequence[str] = DEFAULT_CHANNELS,
    event: OutboxEvent | None = None,
) -> list[Notification]:
    """Queue the message on each of ``channels`` that can reach the user and/or person now.

    Each channel's notification is keyed ``"<dedupe_key>:<channel>"``, so a
    repeated call (an outbox handler run twice) queues nothing new. Returns
    the notifications, possibly none when the recipient is reachable on none
    of the channels.
    """
    notifications = []
    for channel in reachable_channels(user_id=user_id, person_id=person_id, among=channels):
        notifications.append(
            queue(
                dedupe_key=f"{dedupe_key}:{channel}",
                channel=channel,
                template=template,
                subject=subject,
                body=body,
                link=link,
                recipient_user_id=user_id,
                recipient_person_id=person_id,
                event=event,
            )
        )
    return notifications


def is_site_path(link: str) -> bool:
    """A path on this site: starts with one slash (not ``//host`` or ``/\\host``, which browsers treat as hosts)."""
    return link.startswith("/") and not link.startswith(("//", "/\\")) and not any(c.isspace() for c in link)


# --- delivery -------------------------------------------------------------------------------


def _due(now: dt.datetime) -> Q:
    return Q(status=NotificationStatus.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def claim_notifications(worker_id: str, *, limit: int = 50, lease: dt.timedelta = DEFAULT_LEASE) -> list[int]:
    """Lease up to ``limit`` due notifications to ``worker_id`` and return their ids (oldest first)."""
    worker_id = leasing.check_worker_id(worker_id)
    return leasing.claim(Notification, _due(timezone.now()), worker_id=worker_id, limit=limit, lease=lease)


def deliver_batch(
    worker_id: str,
    *,
    limit: int = 50,
    lease: dt.timedelta = DEFAULT_LEASE,
    stop: StopCheck | None = None,
) -> int:
    """Claim up to ``limit`` due notifications and send each on its channel; return how many were attempted.

    ``stop`` is asked before each notification: when it answers True the
    remaining leases are released and the batch ends early.
    """
    worker_id = leasing.check_worker_id(worker_id)
    ids = claim_notifications(worker_id, limit=limit, lease=lease)
    done = 0
    for position, notification_id in enumerate(ids):
        if stop is not None and stop():
            leasing.release(Notification, ids[position:], worker_id=worker_id)
            break
        if _deliver_one(notification_id, worker_id=worker_id, lease=lease):
            done += 1
    return done


@contextmanager
def collecting() -> Iterator[list[int]]:
    """Collect the ids of the notifications :func:`queue` creates inside the block (rolled-back ones included)."""
    ids: list[int] = []
    token = _collected.set(ids)
    try:
        yield ids
    finally:
        _collected.reset(token)


def deliver_now(notification_ids: Iterable[int], worker_id: str, *, lease: dt.timedelta = DEFAULT_LEASE) -> int:
    """Claim the given notifications if they are due and nobody holds them, and send each; return how many.

    What a Celery task does right after the handler that queued them has
    committed, instead of waiting for the next sweep (:func:`deliver_batch`);
    ids of rows that were rolled back, already sent or held by another worker
    are passed over.
    """
    worker_id = leasing.check_worker_id(worker_id)
    wanted = sorted(set(notification_ids))
    if not wanted:
        return 0
    due = _due(timezone.now()) & Q(pk__in=wanted)
    ids = leasing.claim(Notification, due, worker_id=worker_id, limit=len(wanted), lease=lease)
    return sum(_deliver_one(notification_id, worker_id=worker_id, lease=lease) for notification_id in ids)


def _deliver_one(notification_id: int, *, worker_id: str, lease: dt.timedelta) -> bool:
    mine = Notification.objects.filter(pk=notification_id, status=NotificationStatus.PENDING, locked_by=worker_id)
    # Renew the lease for this one notification; if it has passed to another worker, leave it to them.
    if not mine.update(locked_until=timezone.now() + lease):
        return False
    # The sender's log lines carry the id of the request whose event queued the notification.
    notification = Notification.objects.annotate(request_id=F("event__request_id")).get(pk=notification_id)
    with request_id_context(getattr(notification, "request_id", None) or None):
        return _send(notification, mine, worker_id=worker_id)


def _send(notification: Notification, mine: QuerySet[Notification], *, worker_id: str) -> bool:
    notification_id = notification.pk
    channel = _channels.get(notification.channel)
    try:
        if channel is None:
            raise LookupError(f"notification channel {notification.channel!r} is not registered in this process")
        if channel.sends_in_transaction():
            with transaction.atomic():
                locked = mine.select_for_update().first()
                if locked is None:
                    return False
                channel.sender(locked)
                _mark_sent(mine)
        else:
            channel.sender(notification)
            # The message has gone: record it even if our lease passed to another worker meanwhile.
            _mark_sent(Notification.objects.filter(pk=notification_id, status=NotificationStatus.PENDING))
    except PermanentDeliveryError as error:
        _record_failure(notification_id, worker_id=worker_id, error=error, permanent=True)
    except Exception as error:
        _record_failure(notification_id, worker_id=worker_id, error=error, permanent=False)
    return True


def _mark_sent(rows: QuerySet[Notification]) -> None:
    rows.update(
        status=NotificationStatus.SENT,
        sent_at=timezone.now(),
        attempts=F("attempts") + 1,
        next_attempt_at=None,
        locked_until=None,
        locked_by="",
        last_error="",
    )


def _record_failure(notification_id: int, *, worker_id: str, error: BaseException, permanent: bool) -> None:
    text = str(error) if permanent else "".join(traceback.format_exception(error))
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .filter(pk=notification_id, status=NotificationStatus.PENDING, locked_by=worker_id)
            .first()
        )
        if notification is None:
            return
        attempts = notification.attempts + 1
        failed = permanent or attempts >= MAX_ATTEMPTS
        next_attempt_at = None if failed else timezone.now() + leasing.backoff(attempts)
        Notification.objects.filter(pk=notification_id).update(
            status=NotificationStatus.FAILED if failed else NotificationStatus.PENDING,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            locked_until=None,
            locked_by="",
            last_error=text[-ERROR_MAX_LENGTH:],
        )
    if failed:
        logger.error(
            "notification %s (%s) failed after %s attempt(s): %s",
            notification_id,
            notification.channel,
            attempts,
            error,
        )
    else:
        logger.warning(
            "notification %s (%s) failed, attempt %s; retry at %s: %s",
            notification_id,
            notification.channel,
            attempts,
            next_attempt_at,
            error,
        )


def release_leases(worker_id: str) -> int:
    """Free every notification lease held under ``worker_id`` (a worker starting again under the same name)."""
    return leasing.release_all(Notification, worker_id=leasing.check_worker_id(worker_id))


# --- built-in channels ---------------------------------------------------------------------


def _send_in_app(notification: Notification) -> None:
    recipient = resolve_recipient(user_id=notification.recipient_user_id, person_id=notification.recipient_person_id)
    if recipient.user_id is None:
        raise PermanentDeliveryError("收件人没有可用的账户，无法发送站内消息")
    InAppMessage.objects.create(
        notification=notification,
        user_id=recipient.user_id,
        subject=notification.subject,
        body=notification.body,
        link=notification.link,
    )


def _send_email(notification: Notification) -> None:
    recipient = resolve_recipient(user_id=notification.recipient_user_id, person_id=notification.recipient_person_id)
    if not recipient.email:
        raise PermanentDeliveryError("收件人没有电子邮箱地址")
    body = notification.body
    site_url = str(getattr(settings, "SITE_URL", "") or "").rstrip("/")
    if notification.link and site_url:
        # Outside the f-string: xgettext (makemessages) does not look inside one.
        details = _("详情：")
        body = f"{body}\n\n{details}{site_url}{notification.link}"
    EmailMessage(
        subject=notification.subject,
        body=body,
        to=[recipient.email],
        headers={"Message-ID": message_id(notification), "X-Idempotency-Key": idempotency_key(notification)},
    ).send()


register_channel(IN_APP, _send_in_app, transactional=True, reaches=lambda recipient: recipient.user_id is not None)
register_channel(EMAIL, _send_email, reaches=lambda recipient: bool(recipient.email))


# --- administration ---------------------------------------------------------------------------


def failed_notifications() -> QuerySet[Notification]:
    """Notifications that gave up, newest first, for administrators."""
    return Notification.objects.filter(status=NotificationStatus.FAILED).order_by("-id")


def retry_notifications(notification_ids: Iterable[int], *, actor: Any = None) -> int:
    """Put failed notifications back in the queue with a fresh round of attempts; audited; return how many."""
    ids = sorted(set(notification_ids))
    with transaction.atomic():
        count = Notification.objects.filter(pk__in=ids, status=NotificationStatus.FAILED).update(
            status=NotificationStatus.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            locked_until=None,
            locked_by="",
        )
        if count:
            record_event(
                RETRY_EVENT, actor=actor, target="core.Notification", detail={"ids": ids[:100], "count": count}
            )
    return count


# --- the message centre -------------------------------------------------------------------------


def mark_read(message: InAppMessage) -> InAppMessage:
    """Mark one of a user's messages read (the first reading time is kept). The caller has checked ownership."""
    if message.read_at is None:
        now = timezone.now()
        with transaction.atomic():
            InAppMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now)
        message.refresh_from_db(fields=["read_at"])
    return message


def mark_all_read(user: Any) -> int:
    """Mark every unread message of ``user`` read; return how many changed."""
    if not getattr(user, "is_authenticated", False):
        return 0
    with transaction.atomic():
        return InAppMessage.objects.filter(user_id=user.pk, read_at__isnull=True).update(read_at=timezone.now())
