"""Pluggable SMS sending.

``YIWANG_SMS_BACKEND`` names a callable ``send(mobile: str, body: str) -> None``.
The default writes to the ``SmsMessage`` outbox, which the demo and the tests
read; a deployment points the setting at its carrier gateway's adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from yiwang.core import crypto

DEFAULT_BACKEND = "yiwang.accounts.sms.outbox_backend"


def outbox_backend(mobile: str, body: str) -> None:
    from .models import SmsMessage

    SmsMessage.objects.create(
        mobile_index=crypto.blind_index(mobile, "mobile"), mobile_masked=crypto.mask_mobile(mobile), body=body
    )


@lru_cache(maxsize=4)
def _backend(path: str) -> Callable[[str, str], None]:
    backend: Callable[[str, str], None] = import_string(path)
    return backend


def send_sms(mobile: str, body: str) -> None:
    _backend(getattr(settings, "SMS_BACKEND", DEFAULT_BACKEND))(mobile, body)


def latest_message(mobile: str) -> str | None:
    """The newest outbox message to ``mobile`` (for the demo page and tests)."""
    from .models import SmsMessage

    message = SmsMessage.objects.filter(mobile_index=crypto.blind_index(mobile, "mobile")).first()
    return message.body if message else None
