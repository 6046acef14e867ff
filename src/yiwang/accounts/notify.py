"""Accounts' part of notifications: where a user or person can be reached, and the ``sms`` channel.

Core's notification queue cannot read accounts, so accounts registers
these at start-up (``AccountsConfig.ready``):

* the recipient resolver: a user id and/or a person id → the active
  account for in-app messages, the person's mobile number, the account's
  email address;
* the ``sms`` channel, sending through the same backend as the login codes
  (:mod:`yiwang.accounts.sms`) with the notification's dedupe key as the
  idempotency key. With the default backend, which writes SmsMessage rows,
  the send joins the transaction that marks the notification sent.

The mobile number is decrypted only to hand it to the SMS backend: no
person sees it, so these reads are not recorded in the data tracker (which
lists who looked at someone's data); the notification row records what was
sent, to whom (by id), and when.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from yiwang.core import crypto, notifications
from yiwang.core.notifications import PermanentDeliveryError, Recipient

from .models import Person, User
from .sms import backend_writes_to_database, send_sms

if TYPE_CHECKING:
    from yiwang.core.models import Notification


# The length of SmsMessage.body; carriers split a long text into several messages anyway.
SMS_MAX_LENGTH = 500


def resolve_recipient(user_id: int | None, person_id: int | None) -> Recipient | None:
    """Where a user and/or person can be reached; None when neither exists.

    The account is the given active user, or else the active account of the
    person. The mobile number is the person's (the given person, or else the
    user's own person record).
    """
    user = None
    if user_id is not None:
        user = User.objects.filter(pk=user_id, is_active=True).select_related("person").first()
    person = None
    if person_id is not None:
        person = Person.objects.filter(pk=person_id).first()
        if user is None and person is not None:
            user = User.objects.filter(person_id=person.pk, is_active=True).first()
    elif user is not None:
        person = user.person
    if user is None and person is None:
        return None
    mobile = crypto.decrypt(person.mobile_encrypted) if person is not None and person.mobile_encrypted else ""
    return Recipient(
        user_id=user.pk if user is not None else None,
        person_id=person.pk if person is not None else None,
        mobile=mobile,
        email=(user.email or "") if user is not None else "",
    )


def sms_text(notification: Notification) -> str:
    """The text message for a notification: the platform's signature, the subject and the body."""
    text = _("【示范市一网通办】%(subject)s：%(body)s") % {
        "subject": notification.subject,
        "body": " ".join(notification.body.split()),
    }
    return text if len(text) <= SMS_MAX_LENGTH else text[: SMS_MAX_LENGTH - 1] + "…"


def send_sms_notification(notification: Notification) -> None:
    """The ``sms`` channel's sender."""
    recipient = notifications.resolve_recipient(
        user_id=notification.recipient_user_id, person_id=notification.recipient_person_id
    )
    if not recipient.mobile:
        raise PermanentDeliveryError("收件人没有登记手机号码，无法发送短信")
    send_sms(recipient.mobile, sms_text(notification), idempotency_key=notifications.idempotency_key(notification))


def register() -> None:
    """Install the recipient resolver and the ``sms`` channel (called once from AccountsConfig.ready)."""
    notifications.register_recipient_resolver(resolve_recipient)
    notifications.register_channel(
        notifications.SMS,
        send_sms_notification,
        transactional=backend_writes_to_database,
        reaches=lambda recipient: bool(recipient.mobile),
    )
