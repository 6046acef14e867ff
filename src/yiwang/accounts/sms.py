"""Pluggable SMS sending.

``YIWANG_SMS_BACKEND`` names a callable ``send(mobile: str, body: str) -> None``.
The default writes to the ``SmsMessage`` outbox, which the demo and the tests
read; a deployment points the setting at its carrier gateway's adapter.

A backend may also accept a keyword argument ``idempotency_key: str``: the
notification worker passes each notification's dedupe key, and an adapter
should hand it to a gateway that discards repeated keys, so a message sent
again after a worker crash reaches the phone once. Backends written for the
two-argument form keep working; they are called without the key (and then
a crash between sending and recording can repeat a message).

A backend that only writes rows to our own database says so with an
attribute ``writes_to_database = True`` (the default backend is known to):
the worker then sends through it inside the transaction that marks the
notification sent, which makes delivery exactly once.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from yiwang.core import crypto

DEFAULT_BACKEND = "yiwang.accounts.sms.outbox_backend"
# Backends whose every "send" is a row in our database.
DATABASE_BACKENDS = frozenset({DEFAULT_BACKEND})

logger = logging.getLogger("yiwang.sms")

SmsBackend = Callable[..., None]
_warned_without_key: set[str] = set()


def outbox_backend(mobile: str, body: str, *, idempotency_key: str | None = None) -> None:
    from .models import SmsMessage

    # The row is written in the caller's transaction, which is what makes a
    # notification's delivery exactly once; the key has no column to go to.
    SmsMessage.objects.create(
        mobile_index=crypto.blind_index(mobile, "mobile"), mobile_masked=crypto.mask_mobile(mobile), body=body
    )


def _backend_path() -> str:
    return str(getattr(settings, "SMS_BACKEND", DEFAULT_BACKEND))


@lru_cache(maxsize=4)
def _backend(path: str) -> SmsBackend:
    backend: SmsBackend = import_string(path)
    return backend


@lru_cache(maxsize=4)
def _takes_idempotency_key(path: str) -> bool:
    try:
        parameters = inspect.signature(_backend(path)).parameters.values()
    except (TypeError, ValueError):  # a callable whose signature cannot be read
        return False
    return any(p.name == "idempotency_key" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def send_sms(mobile: str, body: str, *, idempotency_key: str | None = None) -> None:
    """Send ``body`` to ``mobile`` through the configured backend, with the idempotency key when it takes one."""
    path = _backend_path()
    backend = _backend(path)
    if idempotency_key is None:
        backend(mobile, body)
    elif _takes_idempotency_key(path):
        backend(mobile, body, idempotency_key=idempotency_key)
    else:
        if path not in _warned_without_key:
            _warned_without_key.add(path)
            logger.warning("SMS backend %s takes no idempotency_key: a retried send may repeat the message", path)
        backend(mobile, body)


def backend_writes_to_database() -> bool:
    """Whether the configured backend only writes rows to our database (then sends can join a transaction)."""
    path = _backend_path()
    return path in DATABASE_BACKENDS or getattr(_backend(path), "writes_to_database", False) is True


def latest_message(mobile: str) -> str | None:
    """The newest outbox message to ``mobile`` (for the demo page and tests)."""
    from .models import SmsMessage

    message = SmsMessage.objects.filter(mobile_index=crypto.blind_index(mobile, "mobile")).first()
    return message.body if message else None
