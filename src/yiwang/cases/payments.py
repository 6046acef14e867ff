"""Fees of case handling (缴费): payment orders, payment providers and the callbacks they send.

When an approved case charges a fee, :func:`create_order` writes a
:class:`~yiwang.cases.models.PaymentOrder` and the case waits in
``awaiting_payment``. The applicant pays on the provider's own page
(:func:`checkout_url`); the provider then tells us, asynchronously and
signed, that the money arrived. :func:`handle_callback` is the only way such
a notice changes anything: it verifies the signature through the provider's
adapter, marks the order paid and takes the case on with the platform's
``confirm_payment`` action, all in one transaction.

Providers are adapters behind :class:`PaymentProvider`, registered by name
(:func:`register_provider`); the one new orders use is the setting
``YIWANG_PAYMENT_PROVIDER`` (default ``"sandbox"``, the simulated gateway of
:mod:`yiwang.cases.sandbox_gateway`). Every notice is kept as a
:class:`~yiwang.cases.models.PaymentCallback` row, whatever became of it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from yiwang.cases import definitions, policy, sandbox_gateway, services
from yiwang.cases.constants import CaseState, PaymentStatus
from yiwang.cases.models import Case, PaymentCallback, PaymentOrder
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import numbering
from yiwang.core.audit import record_event

DEFAULT_PROVIDER = "sandbox"
ORDER_PREFIX = "PAY"
ORDER_RANDOM_DIGITS = 10
# A notice signed longer ago than this is refused unless we have already handled it (a replay is then harmless).
CALLBACK_MAX_AGE = dt.timedelta(minutes=15)
# Clocks differ a little between us and a provider; a notice from further ahead than this is refused.
CALLBACK_MAX_SKEW = dt.timedelta(minutes=5)
# Notices are a few hundred bytes; anything this large is not one, and is not kept whole.
CALLBACK_MAX_BYTES = 64 * 1024
_DESCRIPTION_MAX = PaymentOrder._meta.get_field("description").max_length or 200
_PROVIDER_MAX = PaymentCallback._meta.get_field("provider").max_length or 32
_NOTIFICATION_ID_MAX = PaymentCallback._meta.get_field("notification_id").max_length or 64
_TRADE_NUMBER_MAX = PaymentOrder._meta.get_field("provider_trade_number").max_length or 64


class CallbackOutcome(models.TextChoices):
    """What became of one provider notice (``PaymentCallback.outcome``)."""

    RECEIVED = "received", _("已接收，处理中")
    CONFIRMED = "confirmed", _("缴费已确认")
    DUPLICATE = "duplicate", _("重复通知")
    LATE = "late", _("迟到的付款，待退款")
    AMOUNT_MISMATCH = "amount_mismatch", _("金额不符，待人工核查")
    NOT_PAID = "not_paid", _("未支付（交易关闭）")
    BAD_SIGNATURE = "bad_signature", _("签名无效")
    STALE = "stale", _("通知已过期")
    UNKNOWN_ORDER = "unknown_order", _("缴款单不存在")
    UNKNOWN_PROVIDER = "unknown_provider", _("未知的支付渠道")
    ERROR = "error", _("处理出错")


# Outcomes after which the notice has been dealt with for good: the same notice again is a duplicate.
_SETTLED = frozenset(
    {
        CallbackOutcome.CONFIRMED,
        CallbackOutcome.DUPLICATE,
        CallbackOutcome.LATE,
        CallbackOutcome.AMOUNT_MISMATCH,
        CallbackOutcome.NOT_PAID,
    }
)

# What the callback endpoint answers. A provider retries anything but 200, so everything we have
# recorded for good answers 200, and only what a later retry could fix (or a forgery) does not.
_HTTP_STATUS: dict[str, int] = {
    CallbackOutcome.CONFIRMED: 200,
    CallbackOutcome.DUPLICATE: 200,
    CallbackOutcome.LATE: 200,
    CallbackOutcome.AMOUNT_MISMATCH: 200,
    CallbackOutcome.NOT_PAID: 200,
    CallbackOutcome.BAD_SIGNATURE: 400,
    CallbackOutcome.STALE: 400,
    CallbackOutcome.UNKNOWN_ORDER: 400,
    CallbackOutcome.UNKNOWN_PROVIDER: 404,
}


def callback_status(outcome: str) -> int:
    """The HTTP status the callback endpoint answers for ``outcome`` (500 for anything unexpected)."""
    return _HTTP_STATUS.get(outcome, 500)


# --- providers ---------------------------------------------------------------------


class BadSignature(Exception):
    """A notice whose signature is missing or wrong, or whose body is not a notice at all."""


class UnknownProvider(LookupError):
    """No payment provider is registered under that name."""


@dataclass(frozen=True)
class CallbackNotice:
    """What a verified provider notice says, in our terms."""

    notification_id: str
    order_number: str
    trade_number: str
    amount: Decimal
    # False: the provider reports the trade closed without payment.
    paid: bool
    paid_at: dt.datetime | None
    # When the provider signed the notice, for refusing old ones replayed.
    signed_at: dt.datetime


class PaymentProvider(Protocol):
    """An adapter for one payment gateway: where the applicant pays, and how its notices are verified."""

    name: str

    def checkout_url(self, order: PaymentOrder) -> str:
        """The address of the gateway's cashier page for ``order``."""
        ...

    def verify_callback(self, body: bytes, headers: Mapping[str, str]) -> CallbackNotice:
        """Check the notice's signature and read it; raise :class:`BadSignature` when either fails."""
        ...


_providers: dict[str, PaymentProvider] = {}


def register_provider(provider: PaymentProvider) -> None:
    """Make ``provider`` available under ``provider.name`` (a later registration replaces an earlier one)."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", provider.name) or len(provider.name) > _PROVIDER_MAX:
        raise ValueError(f"payment provider names are short lowercase slugs: {provider.name!r}")
    _providers[provider.name] = provider


def get_provider(name: str) -> PaymentProvider:
    """The provider registered as ``name``; :class:`UnknownProvider` when there is none."""
    try:
        return _providers[name]
    except KeyError:
        raise UnknownProvider(name) from None


def configured_provider() -> str:
    """The provider new payment orders use: the setting ``YIWANG_PAYMENT_PROVIDER``."""
    return str(getattr(settings, "YIWANG_PAYMENT_PROVIDER", "") or DEFAULT_PROVIDER)


def _header(headers: Mapping[str, str], name: str) -> str:
    # Django's request.headers ignores case; a plain dict from an in-process sender does not.
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return (value or "").strip()


class SandboxProvider:
    """Our side of the sandbox gateway: it knows only the gateway's public key and its documented format.

    The gateway signs ``<timestamp>.<body>`` with Ed25519 and sends the
    signature (base64) and the timestamp (Unix seconds) in the headers
    ``X-Sandbox-Signature`` and ``X-Sandbox-Timestamp``. The body is JSON:
    ``notify_id``, ``out_trade_no`` (our order number), ``trade_no``,
    ``total_amount`` (yuan, as a string), ``trade_status`` (``SUCCESS`` or
    ``CLOSED``) and ``gmt_payment`` (ISO 8601).
    """

    name = "sandbox"
    signature_header = "X-Sandbox-Signature"
    timestamp_header = "X-Sandbox-Timestamp"

    def checkout_url(self, order: PaymentOrder) -> str:
        cashier = reverse("payments:sandbox_cashier", args=[order.order_number])
        return f"{cashier}?{urlencode({'return_url': f'/cases/{order.case.number}/'})}"

    def verify_callback(self, body: bytes, headers: Mapping[str, str]) -> CallbackNotice:
        signature, timestamp = _header(headers, self.signature_header), _header(headers, self.timestamp_header)
        if not signature or not timestamp:
            raise BadSignature("签名或时间戳缺失")
        if not re.fullmatch(r"[0-9]{1,12}", timestamp):
            raise BadSignature("时间戳格式错误")
        try:
            raw_signature = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise BadSignature("签名不是有效的 Base64") from None
        try:
            sandbox_gateway.public_key().verify(raw_signature, timestamp.encode("ascii") + b"." + body)
        except InvalidSignature:
            raise BadSignature("签名验证失败") from None
        signed_at = dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
        return self._read(body, signed_at)

    def _read(self, body: bytes, signed_at: dt.datetime) -> CallbackNotice:
        # A validly signed body can still be malformed (a gateway bug); it is refused the same way.
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadSignature("通知内容不是 JSON") from None
        if not isinstance(data, dict):
            raise BadSignature("通知内容不是 JSON 对象")
        text: dict[str, str] = {}
        for key, limit in (("notify_id", _NOTIFICATION_ID_MAX), ("out_trade_no", 64), ("trade_no", _TRADE_NUMBER_MAX)):
            value = data.get(key)
            if not isinstance(value, str) or not value or len(value) > limit:
                raise BadSignature(f"通知缺少有效的 {key}")
            text[key] = value
        status = data.get("trade_status")
        if status not in {"SUCCESS", "CLOSED"}:
            raise BadSignature("未知的交易状态")
        amount = _amount(data.get("total_amount"))
        paid_at = _moment(data.get("gmt_payment")) if status == "SUCCESS" else None
        return CallbackNotice(
            notification_id=text["notify_id"],
            order_number=text["out_trade_no"],
            trade_number=text["trade_no"],
            amount=amount,
            paid=status == "SUCCESS",
            paid_at=paid_at,
            signed_at=signed_at,
        )


def _amount(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise BadSignature("金额须为字符串")
    try:
        amount = Decimal(value)
        valid = amount.is_finite() and amount >= 0 and amount == amount.quantize(Decimal("0.01"))
    except InvalidOperation:
        valid = False
    if not valid:
        raise BadSignature("金额格式错误")
    return amount


def _moment(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise BadSignature("支付时间缺失")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadSignature("支付时间格式错误") from None
    if moment.tzinfo is None:
        raise BadSignature("支付时间缺少时区")
    return moment


register_provider(SandboxProvider())


# --- orders --------------------------------------------------------------------------


def _order_number() -> str:
    day = timezone.localdate()
    return f"{ORDER_PREFIX}{day:%Y%m%d}{numbering.random_digits(ORDER_RANDOM_DIGITS)}"


def fee_situation_needed(case: Case, situation: str = "") -> bool:
    """Whether the approver must pick the fee situation: the lines are alternatives and no answer picks one."""
    chosen = situation or definitions.fee_situation(case.item, case.application.situation_answers)
    try:
        catalog_selectors.fees_charged(case.item, chosen)
    except catalog_selectors.FeeSituationUnknown:
        return True
    return False


def create_order(case: Case, *, situation: str = "") -> PaymentOrder:
    """Write the payment order (缴款单) for an approved case: the fee lines its situation charges.

    Called by the ``approve`` action inside its transaction. Alternative fee
    lines are not summed: the approver's ``situation`` or else the applicant's
    answer picks one (:func:`yiwang.catalog.selectors.fees_charged`). The order number
    is ``PAY<yyyymmdd><10 random digits>``; the provider is the configured one.
    A case that already has a pending order gets that order back, so calling
    this twice never asks the applicant to pay twice. Raises ValueError for
    an item without fees (or whose fees add up to nothing), for alternative
    lines nobody picked, for a case whose fee was already paid, and for an
    unknown configured provider.
    """
    provider = configured_provider()
    get_provider(provider)  # a typo in the setting must stop approval, not strand the applicant at a dead cashier
    chosen = situation or definitions.fee_situation(case.item, case.application.situation_answers)
    try:
        fees = catalog_selectors.fees_charged(case.item, chosen)
    except catalog_selectors.FeeSituationUnknown as unknown:
        raise ValueError(f"事项“{case.item_name}”的收费情形未确定，不能生成缴款单") from unknown
    if not fees:
        raise ValueError(f"事项“{case.item_name}”没有收费项目，不能生成缴款单")
    amount = sum((fee.amount for fee in fees), Decimal("0")).quantize(Decimal("0.01"))
    if amount <= 0:
        raise ValueError(f"事项“{case.item_name}”的收费金额为零，不能生成缴款单")
    description = "、".join(fee.name for fee in fees)
    if len(description) > _DESCRIPTION_MAX:
        description = description[: _DESCRIPTION_MAX - 1] + "…"
    with transaction.atomic():
        orders = PaymentOrder.objects.select_for_update().filter(case=case)
        if orders.filter(status=PaymentStatus.PAID).exists():
            raise ValueError(f"办件{case.number}的费用已缴纳")
        pending = orders.filter(status=PaymentStatus.PENDING).order_by("-id").first()
        if pending is not None:
            return pending
        for _attempt in range(5):
            try:
                # A savepoint: a clash on the order number must not spoil the caller's transaction.
                with transaction.atomic():
                    return PaymentOrder.objects.create(
                        case=case,
                        order_number=_order_number(),
                        amount=amount,
                        description=description,
                        provider=provider,
                    )
            except IntegrityError:
                continue
    raise RuntimeError("连续生成的缴款单号均已存在，请重试")


def cancel_orders(case: Case) -> int:
    """Cancel the case's unpaid orders, e.g. when the applicant withdraws it; returns how many.

    Call it inside the transaction that takes the case out of
    ``awaiting_payment`` (the ``withdraw`` action). Paid orders are left as
    they are. A payment the provider reports for a cancelled order later is
    not lost: :func:`handle_callback` records it as ``late``, to be refunded.
    """
    with transaction.atomic():
        return PaymentOrder.objects.filter(case=case, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.CANCELLED
        )


def checkout_url(order: PaymentOrder) -> str:
    """Where the applicant pays ``order``: its provider's cashier page."""
    return get_provider(order.provider).checkout_url(order)


def pending_order(case: Case) -> PaymentOrder | None:
    """The order the applicant still has to pay for ``case``, if any."""
    return PaymentOrder.objects.filter(case=case, status=PaymentStatus.PENDING).order_by("-id").first()


def order_for_payer(order_number: str, user: Any) -> PaymentOrder | None:
    """The order ``user`` may pay: only the case's applicant side (None when missing or someone else's).

    A refusal is audited; the caller answers it exactly like a missing order.
    """
    order = PaymentOrder.objects.select_related("case__application").filter(order_number=order_number).first()
    if order is None:
        return None
    if not policy.is_case_applicant(user, order.case):
        record_event(
            "permission.denied",
            actor=user,
            target=f"cases.PaymentOrder:{order.order_number}",
            detail={"action": "pay"},
        )
        return None
    return order


def can_pay(order: PaymentOrder) -> bool:
    """Whether ``order`` can still be paid: unpaid, and its case waiting for the payment."""
    return order.status == PaymentStatus.PENDING and order.case.state == CaseState.AWAITING_PAYMENT


# --- callbacks -----------------------------------------------------------------------


def _body_text(body: bytes) -> str:
    # PostgreSQL text refuses NUL; the row must be written whatever arrived.
    return body[:CALLBACK_MAX_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _finish(callback_id: int, outcome: str, **fields: Any) -> str:
    PaymentCallback.objects.filter(pk=callback_id).update(outcome=outcome, **fields)
    return outcome


def _audit(event: str, provider: str, callback_id: int, *, target: str = "", **detail: Any) -> None:
    record_event(
        event,
        actor_label=f"system:payments:{provider}",
        target=target or f"cases.PaymentCallback:{callback_id}",
        detail={"provider": provider, "callback": callback_id, **detail},
    )


def handle_callback(provider: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Receive one provider notice and return its outcome (a :class:`CallbackOutcome` value).

    The notice is first recorded in a transaction of its own, so that it is
    kept whatever happens next. Then, in one transaction: a bad signature or
    malformed body changes nothing (``bad_signature``); an old notice we have
    not handled before is refused (``stale``); an order we do not know is
    refused (``unknown_order``); a notice we already handled, or a second
    notice for the same trade, is a ``duplicate``; a wrong amount is flagged
    in the audit log (``amount_mismatch``); money for an order that was
    cancelled, already paid by another trade, or whose case no longer waits
    for payment is recorded for refund (``late``); otherwise the order is
    marked paid and the case moves on by ``confirm_payment`` (``confirmed``).
    :func:`callback_status` gives the HTTP answer for each outcome.
    """
    provider = provider[:_PROVIDER_MAX]
    with transaction.atomic():
        callback = PaymentCallback.objects.create(
            provider=provider, body=_body_text(body), signature_valid=False, outcome=CallbackOutcome.RECEIVED
        )
    try:
        return _process(callback.pk, provider, body, headers)
    except Exception:
        _finish(callback.pk, CallbackOutcome.ERROR)
        raise


def _process(callback_id: int, provider: str, body: bytes, headers: Mapping[str, str]) -> str:
    try:
        adapter = get_provider(provider)
    except UnknownProvider:
        return _finish(callback_id, CallbackOutcome.UNKNOWN_PROVIDER)
    try:
        if len(body) > CALLBACK_MAX_BYTES:
            raise BadSignature("通知内容过长")
        notice = adapter.verify_callback(body, headers)
    except BadSignature as refused:
        with transaction.atomic():
            _finish(callback_id, CallbackOutcome.BAD_SIGNATURE)
            _audit("payment.callback_refused", provider, callback_id, outcome="bad_signature", reason=str(refused))
        return CallbackOutcome.BAD_SIGNATURE
    with transaction.atomic():
        outcome, order = _apply(callback_id, provider, notice)
        _finish(
            callback_id,
            outcome,
            signature_valid=True,
            notification_id=notice.notification_id,
            order=order,
        )
        if outcome in {CallbackOutcome.STALE, CallbackOutcome.UNKNOWN_ORDER}:
            _audit(
                "payment.callback_refused", provider, callback_id, outcome=str(outcome), order=notice.order_number[:64]
            )
    return outcome


def _already_handled(callback_id: int, provider: str, notification_id: str) -> bool:
    return (
        PaymentCallback.objects.filter(
            provider=provider, notification_id=notification_id, signature_valid=True, outcome__in=_SETTLED
        )
        .exclude(pk=callback_id)
        .exists()
    )


def _apply(callback_id: int, provider: str, notice: CallbackNotice) -> tuple[str, PaymentOrder | None]:
    now = timezone.now()
    fresh = now - CALLBACK_MAX_AGE <= notice.signed_at <= now + CALLBACK_MAX_SKEW
    if not fresh and not _already_handled(callback_id, provider, notice.notification_id):
        return CallbackOutcome.STALE, None
    found = PaymentOrder.objects.filter(order_number=notice.order_number, provider=provider).first()
    if found is None:
        return CallbackOutcome.UNKNOWN_ORDER, None
    # The case first, then the order: the order in which withdrawal (perform → cancel_orders) takes them.
    case = Case.objects.select_for_update().get(pk=found.case_id)
    order = PaymentOrder.objects.select_for_update().get(pk=found.pk)
    # Asked again under the locks: a twin notice may have been handled while we waited.
    if _already_handled(callback_id, provider, notice.notification_id):
        return CallbackOutcome.DUPLICATE, order
    if not notice.paid:
        return CallbackOutcome.NOT_PAID, order
    target = f"cases.PaymentOrder:{order.order_number}"
    reported = {"trade": notice.trade_number, "amount": str(notice.amount)}
    if notice.amount != order.amount:
        _audit("payment.amount_mismatch", provider, callback_id, target=target, expected=str(order.amount), **reported)
        return CallbackOutcome.AMOUNT_MISMATCH, order
    if order.status == PaymentStatus.PAID:
        if order.provider_trade_number == notice.trade_number:
            return CallbackOutcome.DUPLICATE, order
        _audit("payment.refund_due", provider, callback_id, target=target, reason="paid_twice", **reported)
        return CallbackOutcome.LATE, order
    if order.status == PaymentStatus.CANCELLED or case.state != CaseState.AWAITING_PAYMENT:
        reason = "order_cancelled" if order.status == PaymentStatus.CANCELLED else f"case_{case.state}"
        _audit("payment.refund_due", provider, callback_id, target=target, reason=reason, **reported)
        return CallbackOutcome.LATE, order
    order.status = PaymentStatus.PAID
    order.provider_trade_number = notice.trade_number
    order.paid_at = notice.paid_at or now
    order.save(update_fields=["status", "provider_trade_number", "paid_at"])
    services.perform(case.number, "confirm_payment", actor=None, order_number=order.order_number)
    return CallbackOutcome.CONFIRMED, order
