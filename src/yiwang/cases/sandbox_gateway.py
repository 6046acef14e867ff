"""The sandbox payment gateway (沙箱支付): a simulated third-party gateway, for development and demonstrations only.

No money moves. It stands where a real gateway (a bank, UnionPay, a
province's non-tax payment platform) would, and is kept apart from the
platform the way one would be: it never reads or writes the platform's
tables, knows of an order only what its cashier page hands to :func:`pay`,
and talks back only through signed notices to the platform's callback
endpoint. What it does, like a real gateway:

* It signs every notice with its own Ed25519 key; the platform holds only
  the public half (:func:`public_key`). The signature covers
  ``<timestamp>.<body>`` and travels, base64, in ``X-Sandbox-Signature``,
  the Unix timestamp in ``X-Sandbox-Timestamp``.
* It notifies asynchronously: :func:`pay` publishes an outbox event, and the
  worker's handler sends the notice to the callback endpoint, by calling the
  function the endpoint calls or, when the setting
  ``YIWANG_PAYMENT_CALLBACK_URL`` names the endpoint, over HTTP.
* A notice the platform does not answer with 200 is sent again on a schedule
  (:data:`RETRY_DELAYS`), signed afresh each time.
* An accepted notice is sent once more, byte for byte, :data:`DUPLICATE_DELAY`
  later, as real gateways now and then do. The duplicate is older than the
  platform's freshness window by then, so its duplicate handling (and its
  acceptance of an old notice it has already handled) runs in normal use.

The signing key is derived from ``SECRET_KEY`` with HKDF-SHA256 under a
label of the sandbox's own, so every installation has a stable key with no
setup, and no other part of the platform derives the same bytes. That is
acceptable only because this gateway is a simulation: a real gateway's
private key never leaves the gateway.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from yiwang.core import outbox

if TYPE_CHECKING:
    from yiwang.core.models import OutboxEvent


logger = logging.getLogger("yiwang.payments.sandbox")

PROVIDER = "sandbox"
SIGNATURE_HEADER = "X-Sandbox-Signature"
TIMESTAMP_HEADER = "X-Sandbox-Timestamp"
NOTIFY_TOPIC = "sandbox_gateway.notify"
RESEND_TOPIC = "sandbox_gateway.resend"
# Longer than the platform's 15-minute freshness window, on purpose (see the module docstring).
DUPLICATE_DELAY = dt.timedelta(minutes=20)
# Waits before the 2nd, 3rd, … attempt of a notice the platform did not accept; then the gateway gives up.
RETRY_DELAYS = (
    dt.timedelta(seconds=15),
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=3),
    dt.timedelta(minutes=10),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=1),
    dt.timedelta(hours=3),
    dt.timedelta(hours=6),
)
HTTP_TIMEOUT_SECONDS = 10

_SIGNING_KEY_LABEL = b"yiwang sandbox payment gateway / Ed25519 notice signing key / v1 / sandbox only"
_TRADE_KEY_LABEL = b"yiwang sandbox payment gateway / trade number key / v1 / sandbox only"


@functools.lru_cache(maxsize=4)
def _keys(secret: str) -> tuple[Ed25519PrivateKey, bytes]:
    def derive(label: bytes) -> bytes:
        return HKDF(algorithm=SHA256(), length=32, salt=None, info=label).derive(secret.encode("utf-8"))

    return Ed25519PrivateKey.from_private_bytes(derive(_SIGNING_KEY_LABEL)), derive(_TRADE_KEY_LABEL)


def public_key() -> Ed25519PublicKey:
    """The gateway's public key, which it gives the platform to verify its notices with."""
    return _keys(settings.SECRET_KEY)[0].public_key()


def sign(body: bytes, *, at: dt.datetime | None = None) -> dict[str, str]:
    """The headers that sign ``body`` as sent at ``at`` (now by default)."""
    timestamp = str(int((at or timezone.now()).timestamp()))
    signature = _keys(settings.SECRET_KEY)[0].sign(timestamp.encode("ascii") + b"." + body)
    return {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
        TIMESTAMP_HEADER: timestamp,
    }


def trade_number(order_number: str) -> str:
    """The gateway's trade number for an order: always the same for the same order.

    A second payment of an order (a double click, the back button) so
    reports the same trade, which the platform recognises as a duplicate;
    nobody is charged twice.
    """
    digest = hmac.new(_keys(settings.SECRET_KEY)[1], order_number.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"SBX{int(digest, 16) % 10**24:024d}"


def notice_body(
    *, notify_id: str, order_number: str, trade_no: str, amount: Decimal | str, status: str, paid_at: dt.datetime
) -> bytes:
    """A notice as the gateway writes it (also used by tests to forge or tamper with one)."""
    notice = {
        "notify_id": notify_id,
        "out_trade_no": order_number,
        "trade_no": trade_no,
        "total_amount": str(amount),
        "trade_status": status,
        "gmt_payment": paid_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(notice, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def pay(order_number: str, amount: Decimal) -> str:
    """The applicant paid ``amount`` for ``order_number`` at the cashier: schedule the notice; return the trade."""
    trade_no = trade_number(order_number)
    body = notice_body(
        notify_id=uuid.uuid4().hex,
        order_number=order_number,
        trade_no=trade_no,
        amount=amount.quantize(Decimal("0.01")),
        status="SUCCESS",
        paid_at=timezone.now(),
    )
    with transaction.atomic():
        outbox.publish(NOTIFY_TOPIC, {"body": body.decode("utf-8"), "attempt": 1})
    return trade_no


# --- delivery ------------------------------------------------------------------------


def _deliver_in_process(body: bytes, headers: dict[str, str]) -> int:
    # The function behind the platform's callback endpoint, as the endpoint calls it.
    from yiwang.cases import payments

    try:
        return payments.callback_status(payments.handle_callback(PROVIDER, body, headers))
    except Exception:
        logger.exception("the platform failed on a sandbox notice")
        return 500


def _deliver_over_http(url: str, body: bytes, headers: dict[str, str]) -> int:
    if not url.startswith(("http://", "https://")):
        logger.error("YIWANG_PAYMENT_CALLBACK_URL must be an http(s) URL, not %r", url)
        return 0
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310  (checked just above)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError as error:  # URLError, refused connections and timeouts
        logger.warning("sandbox notice to %s failed: %s", url, error)
        return 0


def _send(body: bytes, headers: dict[str, str], then: Callable[[int], None]) -> None:
    url = str(getattr(settings, "YIWANG_PAYMENT_CALLBACK_URL", "") or "")
    if not url:
        then(_deliver_in_process(body, headers))
        return

    def after_commit() -> None:
        then(_deliver_over_http(url, body, headers))

    # The worker's transaction holds the database (on SQLite, all of it) until it
    # commits; the platform answering the request needs to write, so send after.
    transaction.on_commit(after_commit)


@outbox.handles(NOTIFY_TOPIC)
def send_notice(event: OutboxEvent) -> None:
    """Send a payment notice; schedule the retry if it was not accepted, the duplicate if it was."""
    body = str(event.payload["body"]).encode("utf-8")
    attempt = int(event.payload.get("attempt", 1))
    headers = sign(body)

    def follow_up(status: int) -> None:
        with transaction.atomic():
            if status == 200:
                replay = {"body": body.decode("utf-8"), "headers": headers}
                outbox.publish(RESEND_TOPIC, replay, delay=DUPLICATE_DELAY)
            elif attempt <= len(RETRY_DELAYS):
                delay = RETRY_DELAYS[attempt - 1]
                outbox.publish(NOTIFY_TOPIC, {"body": body.decode("utf-8"), "attempt": attempt + 1}, delay=delay)
            else:
                logger.error(
                    "sandbox notice not accepted after %s attempts (last status %s); giving up", attempt, status
                )

    _send(body, headers, follow_up)


@outbox.handles(RESEND_TOPIC)
def resend_notice(event: OutboxEvent) -> None:
    """Send an accepted notice again exactly as it was sent (the gateway's occasional duplicate)."""
    body = str(event.payload["body"]).encode("utf-8")
    headers = {str(name): str(value) for name, value in dict(event.payload["headers"]).items()}

    def log(status: int) -> None:
        if status != 200:
            logger.info("the platform answered %s to a duplicate sandbox notice", status)

    _send(body, headers, log)
