"""Every change to identity goes through this module: registration, login, codes, second
factor, roles, delegations, organisations and reads of personal data.

Each function records its security-relevant outcome in the audit log
(core.audit), successful or not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from yiwang.core import crypto
from yiwang.core.audit import record_event
from yiwang.core.identifiers import (
    DocumentType,
    credit_code_problem,
    document_problem,
    mobile_problem,
    normalise_document_number,
    normalise_mobile,
)

from . import policy
from .constants import (
    AssuranceLevel,
    AssuranceMethod,
    CodePurpose,
    Relationship,
    Role,
)
from .models import (
    DataAccessRecord,
    Delegation,
    OneTimeCode,
    Organisation,
    OrganisationAgent,
    Person,
    RecoveryCode,
    RoleAssignment,
    Throttle,
    TotpDevice,
    User,
)
from .sms import send_sms

CODE_TTL = dt.timedelta(minutes=5)
CODE_ATTEMPTS = 5
CODES_PER_MOBILE_PER_HOUR = 5
CODES_PER_IP_PER_HOUR = 20
PASSWORD_FAILURES_BEFORE_LOCK = 5
LOCK_DURATION = dt.timedelta(minutes=15)
FAILURE_WINDOW = dt.timedelta(minutes=15)
IP_FAILURES_PER_WINDOW = 30
RECOVERY_CODE_COUNT = 10
PII_FIELDS = ("document_number", "mobile")


class IdentityError(Exception):
    """An identity rule was broken; ``code`` is stable, ``detail`` is for people (Chinese)."""

    def __init__(self, code: str, detail: str, *, field: str = "") -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


# --- throttling -----------------------------------------------------------


def _locked(key: str) -> dt.datetime | None:
    row = Throttle.objects.filter(key=key).first()
    if row and row.locked_until and row.locked_until > timezone.now():
        return row.locked_until
    return None


def _fail(key: str, *, limit: int, window: dt.timedelta = FAILURE_WINDOW, lock: dt.timedelta = LOCK_DURATION) -> bool:
    """Count a failure for ``key``; returns True when this failure locks it."""
    now = timezone.now()
    with transaction.atomic():
        row, _ = Throttle.objects.select_for_update().get_or_create(key=key)
        if now - row.window_started_at > window:
            row.failures = 0
            row.window_started_at = now
        row.failures += 1
        locked = row.failures >= limit
        if locked:
            row.locked_until = now + lock
            row.failures = 0
            row.window_started_at = now
        row.save()
    return locked


def _clear(key: str) -> None:
    Throttle.objects.filter(key=key).delete()


def throttle_locked_until(key: str) -> dt.datetime | None:
    """When a throttled key (e.g. ``case-lookup:<ip>`` of another app) unlocks, or None when it is not locked."""
    return _locked(key)


def throttle_failure(key: str, *, limit: int) -> bool:
    """Count one failure for another app's throttled key; True when it locks the key."""
    return _fail(key, limit=limit)


# --- people ----------------------------------------------------------------


def _document_index(document_type: str, number: str) -> str:
    return crypto.blind_index(f"{document_type}:{number}", "document_number")


def mobile_index(mobile: str) -> str:
    return crypto.blind_index(mobile, "mobile")


def clean_mobile(raw: str) -> str:
    mobile = normalise_mobile(raw or "")
    problem = mobile_problem(mobile)
    if problem:
        raise IdentityError("invalid_mobile", problem, field="mobile")
    return mobile


def clean_document(document_type: str, raw: str) -> str:
    if document_type not in DocumentType.values:
        raise IdentityError("invalid_document_type", "证件类型无效", field="document_type")
    number = normalise_document_number(document_type, raw or "")
    problem = document_problem(document_type, number)
    if problem:
        raise IdentityError("invalid_document", problem, field="document_number")
    return number


def clean_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not 1 <= len(name) <= 64 or any(ch.isdigit() or ch in "<>\"'&;/\\" for ch in name):
        raise IdentityError("invalid_name", "姓名应为1至64个字符，不含数字和特殊符号", field="name")
    return name


def find_person(document_type: str, number: str) -> Person | None:
    return Person.objects.filter(
        document_type=document_type, document_number_index=_document_index(document_type, number)
    ).first()


def find_person_by_mobile(mobile: str) -> Person | None:
    return Person.objects.filter(mobile_index=mobile_index(mobile), mobile_verified_at__isnull=False).first()


def create_person(
    *,
    name: str,
    document_type: str,
    document_number: str,
    mobile: str = "",
    assurance_level: int = AssuranceLevel.SELF_DECLARED,
    assurance_method: str = AssuranceMethod.SELF_DECLARED,
) -> Person:
    """Create a person from validated values; the identity and mobile numbers are stored encrypted."""
    name = clean_name(name)
    number = clean_document(document_type, document_number)
    if find_person(document_type, number):
        raise IdentityError("person_exists", "该证件号码已登记", field="document_number")
    person = Person(
        name=name,
        document_type=document_type,
        document_number_encrypted=crypto.encrypt(number),
        document_number_index=_document_index(document_type, number),
        document_number_masked=crypto.mask_document(document_type, number),
        assurance_level=assurance_level,
        assurance_method=assurance_method,
    )
    if mobile:
        _set_mobile(person, clean_mobile(mobile), verified=assurance_level >= AssuranceLevel.MOBILE_VERIFIED)
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError as exc:
        raise IdentityError("person_exists", "该证件号码已登记", field="document_number") from exc
    return person


def _set_mobile(person: Person, mobile: str, *, verified: bool) -> None:
    person.mobile_encrypted = crypto.encrypt(mobile)
    person.mobile_index = mobile_index(mobile)
    person.mobile_masked = crypto.mask_mobile(mobile)
    person.mobile_verified_at = timezone.now() if verified else None


# --- one-time codes ---------------------------------------------------------


def _code_hash(code: str, purpose: str, index: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{purpose}:{index}:{code}".encode(), hashlib.sha256).hexdigest()


def send_code(mobile: str, purpose: str, *, ip: str | None = None) -> None:
    """Send a 6-digit code to ``mobile``, within the resend interval and the hourly limits."""
    mobile = clean_mobile(mobile)
    if purpose not in CodePurpose.values:
        raise IdentityError("invalid_purpose", "验证码用途无效")
    index = mobile_index(mobile)
    now = timezone.now()
    recent = OneTimeCode.objects.filter(mobile_index=index, created_at__gt=now - dt.timedelta(hours=1))
    resend_seconds: int = settings.SMS_CODE_RESEND_SECONDS
    if recent.filter(created_at__gt=now - dt.timedelta(seconds=resend_seconds)).exists():
        raise IdentityError("code_too_soon", f"验证码已发送，请{resend_seconds}秒后再试")
    if recent.count() >= CODES_PER_MOBILE_PER_HOUR:
        raise IdentityError("code_limit", "该手机号获取验证码过于频繁，请一小时后再试")
    if ip and OneTimeCode.objects.filter(ip=ip, created_at__gt=now - dt.timedelta(hours=1)).count() >= (
        CODES_PER_IP_PER_HOUR
    ):
        raise IdentityError("code_limit", "获取验证码过于频繁，请稍后再试")
    code = f"{secrets.randbelow(10**6):06d}"
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


# --- registration and login -------------------------------------------------


def register_citizen(
    *,
    name: str,
    document_type: str,
    document_number: str,
    mobile: str,
    code: str,
    password: str,
    ip: str | None = None,
) -> User:
    """Register a citizen: the SMS code proves the mobile number, giving assurance level 2."""
    mobile = clean_mobile(mobile)
    number = clean_document(document_type, document_number)
    name = clean_name(name)
    probe = User(username="probe", display_name=name)
    try:
        password_validation.validate_password(password, probe)
    except ValidationError as exc:
        raise IdentityError("weak_password", "；".join(exc.messages), field="password") from exc
    if find_person_by_mobile(mobile):
        raise IdentityError("mobile_taken", "该手机号已注册，请直接登录", field="mobile")
    verify_code(mobile, CodePurpose.REGISTER, code, ip=ip)
    with transaction.atomic():
        existing = find_person(document_type, number)
        if existing is not None:
            if hasattr(existing, "user"):
                raise IdentityError("person_exists", "该证件号码已注册，请直接登录", field="document_number")
            person = existing
            _set_mobile(person, mobile, verified=True)
            person.assurance_level = max(person.assurance_level, AssuranceLevel.MOBILE_VERIFIED)
            if person.assurance_level == AssuranceLevel.MOBILE_VERIFIED:
                person.assurance_method = AssuranceMethod.SMS
            person.assurance_at = timezone.now()
            person.save()
        else:
            person = create_person(
                name=name,
                document_type=document_type,
                document_number=number,
                mobile=mobile,
                assurance_level=AssuranceLevel.MOBILE_VERIFIED,
                assurance_method=AssuranceMethod.SMS,
            )
        user = User(username=f"p{secrets.token_hex(6)}", display_name=name, person=person)
        user.set_password(password)
        user.save()
        record_event("account.registered", actor=user, target=f"accounts.Person:{person.pk}", ip=ip)
    return user


def _user_by_identifier(identifier: str) -> User | None:
    """Staff log in with their username; citizens with their mobile or resident ID number."""
    identifier = (identifier or "").strip()[:64]
    if not identifier:
        return None
    user = User.objects.filter(username=identifier).first()
    if user is not None:
        return user
    mobile = normalise_mobile(identifier)
    if mobile_problem(mobile) is None:
        person = find_person_by_mobile(mobile)
    else:
        number = normalise_document_number(DocumentType.RESIDENT_ID, identifier)
        person = (
            find_person(DocumentType.RESIDENT_ID, number)
            if document_problem(DocumentType.RESIDENT_ID, number) is None
            else None
        )
    return getattr(person, "user", None) if person else None


@dataclass
class LoginOutcome:
    user: User
    needs_second_factor: bool
    needs_enrolment: bool


def authenticate_password(identifier: str, password: str, *, ip: str | None = None) -> LoginOutcome:
    """Check a password with lockout per account and throttling per address.

    The same refusal is given for an unknown account and a wrong password, so
    that nobody can probe which accounts exist.
    """
    ip_key = f"ip:{ip}" if ip else ""
    if ip_key and _locked(ip_key):
        record_event("auth.login_throttled", ip=ip, detail={"identifier": _mask_identifier(identifier)})
        raise IdentityError("throttled", "登录尝试过于频繁，请稍后再试")
    user = _user_by_identifier(identifier)
    account_key = f"user:{user.pk}" if user else ""
    if account_key and (until := _locked(account_key)):
        record_event("auth.login_locked", actor=user, ip=ip)
        minutes = max(1, int((until - timezone.now()).total_seconds() // 60) + 1)
        raise IdentityError("locked", f"密码错误次数过多，账户已锁定，请{minutes}分钟后再试")
    if user is None or not user.is_active or not user.check_password(password or ""):
        if account_key and _fail(account_key, limit=PASSWORD_FAILURES_BEFORE_LOCK):
            record_event("auth.account_locked", actor=user, ip=ip)
        if ip_key:
            _fail(ip_key, limit=IP_FAILURES_PER_WINDOW)
        record_event("auth.login_failed", actor=user, ip=ip, detail={"identifier": _mask_identifier(identifier)})
        raise IdentityError("invalid_credentials", "账号或密码不正确")
    _clear(account_key)
    needs_second = policy.requires_second_factor(user)
    enrolled = needs_second and TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
    return LoginOutcome(user=user, needs_second_factor=needs_second, needs_enrolment=needs_second and not enrolled)


def authenticate_sms(mobile: str, code: str, *, ip: str | None = None) -> User:
    """Citizens' SMS-code login; staff must use password and authenticator."""
    mobile = clean_mobile(mobile)
    person = find_person_by_mobile(mobile)
    verify_code(mobile, CodePurpose.LOGIN, code, ip=ip)
    user = getattr(person, "user", None) if person else None
    if user is None or not user.is_active or policy.requires_second_factor(user):
        record_event("auth.login_failed", ip=ip, detail={"method": "sms", "mobile": crypto.mask_mobile(mobile)})
        raise IdentityError("invalid_credentials", "该手机号未注册为个人账户")
    return user


def record_login(user: User, *, ip: str | None, method: str) -> None:
    record_event("auth.login", actor=user, ip=ip, detail={"method": method})


def _mask_identifier(identifier: str) -> str:
    text = (identifier or "")[:64]
    return text[:2] + "***" + text[-2:] if len(text) > 4 else "***"


def logout_everywhere(user: User, *, ip: str | None = None) -> None:
    """End every session of ``user`` on every device (their session hashes no longer match)."""
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])
    record_event("auth.logout_everywhere", actor=user, ip=ip)


# --- second factor (TOTP) -----------------------------------------------------


def start_totp_enrolment(user: User) -> str:
    """Create (or replace an unconfirmed) authenticator secret; returns the otpauth:// URI to scan."""
    device = TotpDevice.objects.filter(user=user).first()
    if device and device.confirmed_at:
        raise IdentityError("totp_exists", "已绑定动态口令，如需更换请联系管理员重置")
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
        raise IdentityError("no_enrolment", "请先开始绑定动态口令")
    if not _accept_totp(device, code):
        record_event("auth.totp_failed", actor=user, ip=ip, detail={"stage": "enrolment"})
        raise IdentityError("invalid_code", "动态口令不正确", field="code")
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
    if _locked(key):
        raise IdentityError("locked", "动态口令错误次数过多，请15分钟后再试")
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        raise IdentityError("no_enrolment", "尚未绑定动态口令")
    if _accept_totp(device, code):
        _clear(key)
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
            _clear(key)
            return
    if _fail(key, limit=PASSWORD_FAILURES_BEFORE_LOCK):
        record_event("auth.account_locked", actor=user, ip=ip, detail={"stage": "second_factor"})
    record_event("auth.totp_failed", actor=user, ip=ip)
    raise IdentityError("invalid_code", "动态口令不正确", field="code")


# --- staff and roles ----------------------------------------------------------


def create_staff(
    *, actor: User, username: str, display_name: str, department: Any, roles: Iterable[str], password: str
) -> User:
    """Create a staff account in ``department`` with roles the actor may grant."""
    roles = list(roles)
    for role in roles:
        if not policy.can_grant_role(actor, role, department):
            record_event("permission.denied", actor=actor, detail={"action": "create_staff", "role": role})
            raise IdentityError("forbidden", "无权在该部门授予此角色")
    username = (username or "").strip()
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").isalnum():
        raise IdentityError("invalid_username", "工号只能包含字母、数字、-和_，不超过64位", field="username")
    if User.objects.filter(username=username).exists():
        raise IdentityError("username_taken", "该工号已存在", field="username")
    probe = User(username=username, display_name=display_name)
    try:
        password_validation.validate_password(password, probe)
    except ValidationError as exc:
        raise IdentityError("weak_password", "；".join(exc.messages), field="password") from exc
    with transaction.atomic():
        user = User(username=username, display_name=display_name[:64], is_staff=False)
        user.set_password(password)
        user.save()
        for role in roles:
            _grant(actor, user, role, department)
        record_event("account.staff_created", actor=actor, target=f"accounts.User:{user.pk}")
    return user


def _grant(actor: User | None, user: User, role: str, department: Any) -> RoleAssignment:
    assignment, _ = RoleAssignment.objects.get_or_create(
        user=user,
        role=role,
        department=department,
        revoked_at=None,
        defaults={"granted_by": actor},
    )
    record_event(
        "role.granted",
        actor=actor,
        target=f"accounts.User:{user.pk}",
        detail={"role": role, "department": getattr(department, "code", None)},
    )
    return assignment


def grant_role(*, actor: User, user: User, role: str, department: Any) -> RoleAssignment:
    """Grant a role; refused (and audited) outside the actor's authority or to themselves."""
    if role not in Role.values or not policy.can_grant_role(actor, role, department) or actor.pk == user.pk:
        record_event(
            "permission.denied",
            actor=actor,
            target=f"accounts.User:{user.pk}",
            detail={"action": "grant_role", "role": role, "department": getattr(department, "code", None)},
        )
        raise IdentityError("forbidden", "无权授予该角色")
    if user.person_id is not None and not policy.is_platform_admin(actor):
        # Citizen logins stay citizen logins: staff work from staff accounts.
        record_event("permission.denied", actor=actor, target=f"accounts.User:{user.pk}", detail={"action": "grant"})
        raise IdentityError("forbidden", "不能为个人账户授予工作角色")
    if not policy.can_manage_user(actor, user) and user.role_assignments.active().exists():
        record_event("permission.denied", actor=actor, target=f"accounts.User:{user.pk}", detail={"action": "grant"})
        raise IdentityError("forbidden", "无权管理该用户")
    with transaction.atomic():
        return _grant(actor, user, role, department)


def revoke_role(*, actor: User, assignment: RoleAssignment) -> None:
    if not policy.can_grant_role(actor, assignment.role, assignment.department) or actor.pk == assignment.user_id:
        record_event(
            "permission.denied",
            actor=actor,
            target=f"accounts.RoleAssignment:{assignment.pk}",
            detail={"action": "revoke_role"},
        )
        raise IdentityError("forbidden", "无权撤销该角色")
    with transaction.atomic():
        updated = RoleAssignment.objects.filter(pk=assignment.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor
        )
        if updated:
            record_event(
                "role.revoked",
                actor=actor,
                target=f"accounts.User:{assignment.user_id}",
                detail={"role": assignment.role, "department": getattr(assignment.department, "code", None)},
            )


# --- delegations and organisations --------------------------------------------


def _require_person(user: User) -> Person:
    if user.person is None:
        raise IdentityError("not_a_person", "只有个人账户可以进行此操作")
    return user.person


def grant_delegation(
    *,
    actor: User,
    agent_document_type: str,
    agent_document_number: str,
    relationship: str,
    valid_until: dt.datetime,
    scope: list[str] | None = None,
) -> Delegation:
    """A citizen authorises a relative or community worker (identified by ID) to act for them."""
    principal = _require_person(actor)
    if relationship not in Relationship.values:
        raise IdentityError("invalid_relationship", "关系无效", field="relationship")
    if valid_until <= timezone.now() or valid_until > timezone.now() + dt.timedelta(days=3 * 366):
        raise IdentityError("invalid_expiry", "有效期应在今天之后、三年以内", field="valid_until")
    number = clean_document(agent_document_type, agent_document_number)
    agent = find_person(agent_document_type, number)
    if agent is None:
        raise IdentityError("agent_unknown", "被授权人尚未在本平台登记，请其先注册或到窗口登记", field="agent")
    if agent.pk == principal.pk:
        raise IdentityError("self_delegation", "不能授权给自己", field="agent")
    with transaction.atomic():
        delegation = Delegation.objects.create(
            principal=principal,
            agent_person=agent,
            relationship=relationship,
            scope=scope or [],
            valid_until=valid_until,
            created_by=actor,
        )
        record_event(
            "delegation.granted",
            actor=actor,
            on_behalf_of_person_id=principal.pk,
            target=f"accounts.Delegation:{delegation.pk}",
        )
    return delegation


def revoke_delegation(*, actor: User, delegation: Delegation) -> None:
    """The principal (or the agent, giving it up) ends a delegation at once."""
    person = actor.person
    if person is None or person.pk not in (delegation.principal_id, delegation.agent_person_id):
        record_event("permission.denied", actor=actor, target=f"accounts.Delegation:{delegation.pk}")
        raise IdentityError("not_found", "授权不存在")
    Delegation.objects.filter(pk=delegation.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record_event(
        "delegation.revoked",
        actor=actor,
        on_behalf_of_person_id=delegation.principal_id,
        target=f"accounts.Delegation:{delegation.pk}",
    )


def register_organisation(*, actor: User, name: str, credit_code: str) -> Organisation:
    """A citizen with a verified mobile registers an organisation they legally represent."""
    person = _require_person(actor)
    if person.assurance_level < AssuranceLevel.MOBILE_VERIFIED:
        raise IdentityError("assurance_too_low", "法定代表人须完成二级及以上实名认证")
    code = (credit_code or "").strip().upper()
    problem = credit_code_problem(code)
    if problem:
        raise IdentityError("invalid_credit_code", problem, field="credit_code")
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 200:
        raise IdentityError("invalid_name", "名称应为2至200个字符", field="name")
    if Organisation.objects.filter(credit_code=code).exists():
        raise IdentityError("organisation_exists", "该统一社会信用代码已注册", field="credit_code")
    with transaction.atomic():
        organisation = Organisation.objects.create(
            name=name, credit_code=code, legal_representative=person, registered_by=actor
        )
        record_event("organisation.registered", actor=actor, target=f"accounts.Organisation:{organisation.pk}")
    return organisation


def add_organisation_agent(
    *,
    actor: User,
    organisation: Organisation,
    agent_document_type: str,
    agent_document_number: str,
    valid_until: dt.datetime,
    scope: list[str] | None = None,
) -> OrganisationAgent:
    """The legal representative authorises a 经办人 for the organisation."""
    if not policy.can_manage_organisation(actor, organisation):
        record_event("permission.denied", actor=actor, target=f"accounts.Organisation:{organisation.pk}")
        raise IdentityError("not_found", "法人不存在")
    if valid_until <= timezone.now() or valid_until > timezone.now() + dt.timedelta(days=3 * 366):
        raise IdentityError("invalid_expiry", "有效期应在今天之后、三年以内", field="valid_until")
    number = clean_document(agent_document_type, agent_document_number)
    agent = find_person(agent_document_type, number)
    if agent is None:
        raise IdentityError("agent_unknown", "经办人尚未在本平台登记", field="agent")
    with transaction.atomic():
        record = OrganisationAgent.objects.create(
            organisation=organisation, person=agent, scope=scope or [], valid_until=valid_until, granted_by=actor
        )
        record_event("organisation.agent_added", actor=actor, target=f"accounts.OrganisationAgent:{record.pk}")
    return record


def revoke_organisation_agent(*, actor: User, agent: OrganisationAgent) -> None:
    if not policy.can_manage_organisation(actor, agent.organisation):
        record_event("permission.denied", actor=actor, target=f"accounts.OrganisationAgent:{agent.pk}")
        raise IdentityError("not_found", "经办人授权不存在")
    OrganisationAgent.objects.filter(pk=agent.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record_event("organisation.agent_revoked", actor=actor, target=f"accounts.OrganisationAgent:{agent.pk}")


# --- acting for someone -------------------------------------------------------


@dataclass(frozen=True)
class ActingFor:
    """Who an action is really for: recorded with every action as on-behalf-of."""

    person_id: int
    person_label: str
    basis: str  # "delegation:<id>" or "counter:<how identity was checked>"


def act_for_by_delegation(*, actor: User, delegation: Delegation, item_code: str | None = None) -> ActingFor:
    """An agent starts acting for the principal of an active delegation that covers the item."""
    active = Delegation.objects.active().filter(pk=delegation.pk).first()
    person = actor.person
    allowed = active is not None and (
        (person is not None and active.agent_person_id == person.pk) or active.agent_user_id == actor.pk
    )
    if not allowed or active is None or not active.covers(item_code):
        record_event("permission.denied", actor=actor, target=f"accounts.Delegation:{delegation.pk}")
        raise IdentityError("not_found", "授权不存在或已失效")
    principal = active.principal
    record_event(
        "assist.started",
        actor=actor,
        on_behalf_of_person_id=principal.pk,
        on_behalf_of_label=f"{principal.name[:1]}*",
        detail={"basis": f"delegation:{active.pk}"},
    )
    return ActingFor(principal.pk, f"{principal.name[:1]}*", f"delegation:{active.pk}")


def act_for_at_counter(
    *, actor: User, document_type: str, document_number: str, identity_checked_by: str, ip: str | None = None
) -> ActingFor:
    """A counter clerk serves a person who is present, after checking their identity document."""
    if not policy.has_any_role(actor, {Role.COUNTER_CLERK}):
        record_event("permission.denied", actor=actor, detail={"action": "counter_assist"})
        raise IdentityError("forbidden", "只有窗口受理人员可以代为办理")
    if identity_checked_by not in {"id_card_reader", "document_inspected", "face_match"}:
        raise IdentityError("identity_check_required", "请先核验办事人身份证件", field="identity_checked_by")
    number = clean_document(document_type, document_number)
    person = find_person(document_type, number)
    if person is None:
        raise IdentityError("person_unknown", "未找到该办事人，请先为其登记", field="document_number")
    record_event(
        "assist.started",
        actor=actor,
        on_behalf_of_person_id=person.pk,
        on_behalf_of_label=f"{person.name[:1]}*",
        ip=ip,
        detail={"basis": f"counter:{identity_checked_by}"},
    )
    return ActingFor(person.pk, f"{person.name[:1]}*", f"counter:{identity_checked_by}")


# --- personal data ------------------------------------------------------------


def reveal_person_data(
    *,
    actor: User,
    person: Person,
    fields: Iterable[str],
    purpose: str,
    case_reference: str = "",
) -> dict[str, str]:
    """Return full identity values; every read is recorded for the person's data tracker."""
    wanted = [f for f in fields if f in PII_FIELDS]
    if not wanted:
        raise IdentityError("invalid_fields", "请指定要查看的字段：document_number 或 mobile")
    purpose = " ".join((purpose or "").split())[:200]
    is_self = actor.person_id == person.pk
    if not is_self and (len(purpose) < 2 or not case_reference):
        raise IdentityError("purpose_required", "查看完整个人信息须说明用途并关联办件", field="purpose")
    if not policy.can_read_person_data(actor, person):
        record_event(
            "permission.denied", actor=actor, target=f"accounts.Person:{person.pk}", detail={"action": "pii.read"}
        )
        raise IdentityError("not_found", "自然人不存在")
    values: dict[str, str] = {}
    if "document_number" in wanted:
        values["document_number"] = crypto.decrypt(person.document_number_encrypted)
    if "mobile" in wanted and person.mobile_encrypted:
        values["mobile"] = crypto.decrypt(person.mobile_encrypted)
    with transaction.atomic():
        DataAccessRecord.objects.create(
            person=person,
            accessor=actor,
            accessor_label="本人" if is_self else str(actor),
            department_name="" if is_self else policy.primary_department_name(actor),
            fields=wanted,
            purpose=purpose or "本人查看",
            case_reference=case_reference[:80],
        )
        record_event(
            "pii.read",
            actor=actor,
            on_behalf_of_person_id=person.pk,
            target=f"accounts.Person:{person.pk}",
            detail={"fields": wanted, "purpose": purpose, "case": case_reference[:80]},
        )
    return values


def record_event_denied(user: Any, action: str, ip: str | None) -> None:
    """Audit a refused request that reached no service (a page the user may not open)."""
    record_event(
        "permission.denied", actor=user if getattr(user, "pk", None) else None, ip=ip, detail={"action": action}
    )
