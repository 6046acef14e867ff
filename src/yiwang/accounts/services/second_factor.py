"""The second factor: authenticator (TOTP) enrolment and checks, and one-use recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts.models import (
    RecoveryCode,
    TotpDevice,
    User,
)
from yiwang.accounts.services.errors import IdentityError
from yiwang.accounts.services.throttling import (
    PASSWORD_FAILURES_BEFORE_LOCK,
    throttle_clear,
    throttle_failure,
    throttle_locked_until,
)
from yiwang.core import crypto
from yiwang.core.audit import record_event

RECOVERY_CODE_COUNT = 10


def start_totp_enrolment(user: User) -> str:
    """Create (or replace an unconfirmed) authenticator secret; returns the otpauth:// URI to scan."""
    device = TotpDevice.objects.filter(user=user).first()
    if device and device.confirmed_at:
        raise IdentityError("totp_exists", _("已绑定动态口令，如需更换请联系管理员重置"))
    secret = pyotp.random_base32()
    TotpDevice.objects.update_or_create(
        user=user, defaults={"secret_encrypted": crypto.encrypt(secret), "confirmed_at": None, "last_step": 0}
    )
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="示范市一网通办")


def _accept_totp(device: TotpDevice, code: str) -> bool:
    code = (code or "").strip()
    if not (len(code) == 6 and code.isdigit()):
        return False
    totp = pyotp.TOTP(crypto.decrypt(device.secret_encrypted))
    now = timezone.now().timestamp()
    current = int(now // totp.interval)
    for step in (current - 1, current, current + 1):
        if step > device.last_step and hmac.compare_digest(totp.at(step * totp.interval), code):
            # A code is good once: replaying it inside its window is refused.
            updated = TotpDevice.objects.filter(pk=device.pk, last_step__lt=step).update(last_step=step)
            return updated == 1
    return False


def confirm_totp(user: User, code: str, *, ip: str | None = None) -> list[str]:
    """Confirm enrolment with a first code; returns the recovery codes, shown once."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        raise IdentityError("no_enrolment", _("请先开始绑定动态口令"))
    if not _accept_totp(device, code):
        record_event("auth.totp_failed", actor=user, ip=ip, detail={"stage": "enrolment"})
        raise IdentityError("invalid_code", _("动态口令不正确"), field="code")
    codes = [
        f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}" for _ in range(RECOVERY_CODE_COUNT)
    ]
    with transaction.atomic():
        TotpDevice.objects.filter(pk=device.pk).update(confirmed_at=timezone.now())
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(RecoveryCode(user=user, code_hash=_recovery_hash(c)) for c in codes)
        record_event("auth.totp_enrolled", actor=user, ip=ip)
    return codes


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(f"yiwang-recovery:{code.strip().lower()}".encode()).hexdigest()


def verify_second_factor(user: User, code: str, *, ip: str | None = None) -> None:
    """Accept an authenticator code or an unused recovery code, with lockout on repeated failures."""
    key = f"2fa:{user.pk}"
    if throttle_locked_until(key):
        raise IdentityError("locked", _("动态口令错误次数过多，请15分钟后再试"))
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        raise IdentityError("no_enrolment", _("尚未绑定动态口令"))
    if _accept_totp(device, code):
        throttle_clear(key)
        return
    with transaction.atomic():
        recovery = (
            RecoveryCode.objects.select_for_update()
            .filter(user=user, used_at__isnull=True, code_hash=_recovery_hash(code or ""))
            .first()
        )
        if recovery is not None:
            recovery.used_at = timezone.now()
            recovery.save(update_fields=["used_at"])
            record_event("auth.recovery_code_used", actor=user, ip=ip)
            throttle_clear(key)
            return
    if throttle_failure(key, limit=PASSWORD_FAILURES_BEFORE_LOCK):
        record_event("auth.account_locked", actor=user, ip=ip, detail={"stage": "second_factor"})
    record_event("auth.totp_failed", actor=user, ip=ip)
    raise IdentityError("invalid_code", _("动态口令不正确"), field="code")
