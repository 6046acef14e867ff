"""One-time SMS codes: sending within the limits, accepting a code once."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts.constants import (
    CodePurpose,
)
from yiwang.accounts.models import (
    OneTimeCode,
)
from yiwang.accounts.services.errors import IdentityError
from yiwang.accounts.services.people import clean_mobile, find_person_by_mobile, mobile_index
from yiwang.accounts.sms import send_sms
from yiwang.core import crypto, numbering
from yiwang.core.audit import record_event

CODE_TTL = dt.timedelta(minutes=5)
CODE_ATTEMPTS = 5
CODES_PER_MOBILE_PER_HOUR = 5
CODES_PER_IP_PER_HOUR = 20


def _code_hash(code: str, purpose: str, index: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{purpose}:{index}:{code}".encode(), hashlib.sha256).hexdigest()


def send_code(mobile: str, purpose: str, *, ip: str | None = None) -> None:
    """Send a 6-digit code to ``mobile``, within the resend interval and the hourly limits."""
    mobile = clean_mobile(mobile)
    if purpose not in CodePurpose.values:
        raise IdentityError("invalid_purpose", _("验证码用途无效"))
    if purpose == CodePurpose.REGISTER and find_person_by_mobile(mobile) is not None:
        # Refused before a message costs money and disturbs the number's owner; registering would fail anyway.
        raise IdentityError("mobile_taken", _("该手机号已注册，请直接登录"), field="mobile")
    index = mobile_index(mobile)
    now = timezone.now()
    recent = OneTimeCode.objects.filter(mobile_index=index, created_at__gt=now - dt.timedelta(hours=1))
    resend_seconds: int = settings.SMS_CODE_RESEND_SECONDS
    if recent.filter(created_at__gt=now - dt.timedelta(seconds=resend_seconds)).exists():
        raise IdentityError("code_too_soon", _("验证码已发送，请%(seconds)s秒后再试") % {"seconds": resend_seconds})
    if recent.count() >= CODES_PER_MOBILE_PER_HOUR:
        raise IdentityError("code_limit", _("该手机号获取验证码过于频繁，请一小时后再试"))
    if ip and OneTimeCode.objects.filter(ip=ip, created_at__gt=now - dt.timedelta(hours=1)).count() >= (
        CODES_PER_IP_PER_HOUR
    ):
        raise IdentityError("code_limit", _("获取验证码过于频繁，请稍后再试"))
    code = numbering.random_digits(6)
    with transaction.atomic():
        OneTimeCode.objects.create(
            purpose=purpose,
            mobile_index=index,
            code_hash=_code_hash(code, purpose, index),
            expires_at=now + CODE_TTL,
            ip=ip,
        )
        transaction.on_commit(
            lambda: send_sms(mobile, f"【示范市一网通办】您的验证码为{code}，5分钟内有效。请勿告诉他人。")
        )


def seconds_until_resend(mobile: str) -> int:
    """How long before another code may be sent to ``mobile`` (0: now); drives the send button's countdown."""
    try:
        index = mobile_index(clean_mobile(mobile))
    except IdentityError:
        return 0
    last = OneTimeCode.objects.filter(mobile_index=index).order_by("-created_at").values_list("created_at", flat=True)
    sent_at = last.first()
    if sent_at is None:
        return 0
    remaining = (sent_at + dt.timedelta(seconds=settings.SMS_CODE_RESEND_SECONDS) - timezone.now()).total_seconds()
    return max(0, int(remaining + 0.999))


def verify_code(mobile: str, purpose: str, code: str, *, ip: str | None = None) -> None:
    """Accept a code once: wrong, expired, used or over-tried codes are refused and audited."""
    mobile = clean_mobile(mobile)
    index = mobile_index(mobile)
    code = (code or "").strip()
    with transaction.atomic():
        candidate = (
            OneTimeCode.objects.select_for_update()
            .filter(mobile_index=index, purpose=purpose, consumed_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        now = timezone.now()
        reason = ""
        if candidate is None:
            reason = "没有可用的验证码，请重新获取"
        elif candidate.expires_at <= now:
            reason = "验证码已过期，请重新获取"
        elif candidate.attempts >= CODE_ATTEMPTS:
            reason = "验证码错误次数过多，请重新获取"
        elif not (len(code) == 6 and code.isdigit()) or not hmac.compare_digest(
            candidate.code_hash, _code_hash(code, purpose, index)
        ):
            candidate.attempts = F("attempts") + 1
            candidate.save(update_fields=["attempts"])
            reason = "验证码不正确"
        if not reason and candidate is not None:
            candidate.consumed_at = now
            candidate.save(update_fields=["consumed_at"])
    if reason:
        record_event(
            "auth.code_failed", target=f"mobile:{crypto.mask_mobile(mobile)}", ip=ip, detail={"purpose": purpose}
        )
        raise IdentityError("invalid_code", reason, field="code")
