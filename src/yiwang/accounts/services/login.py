"""Registration and login: password with lockout, SMS code, and ending every session."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts import policy
from yiwang.accounts.constants import (
    AssuranceLevel,
    AssuranceMethod,
    CodePurpose,
)
from yiwang.accounts.models import (
    Person,
    TotpDevice,
    User,
)
from yiwang.accounts.services.codes import verify_code
from yiwang.accounts.services.errors import IdentityError
from yiwang.accounts.services.people import (
    clean_document,
    clean_mobile,
    clean_name,
    create_person,
    find_person,
    find_person_by_mobile,
    mobile_index,
    set_mobile,
)
from yiwang.accounts.services.throttling import (
    IP_FAILURES_PER_WINDOW,
    PASSWORD_FAILURES_BEFORE_LOCK,
    throttle_backoff,
    throttle_clear,
    throttle_failure,
    throttle_locked_until,
)
from yiwang.core import crypto
from yiwang.core.audit import record_event
from yiwang.core.identifiers import (
    DocumentType,
    document_problem,
    mobile_problem,
    normalise_document_number,
    normalise_mobile,
)


def _checked(errors: dict[str, IdentityError], field: str, clean: Callable[[], str]) -> str:
    """The cleaned value, or ``""`` with the refusal noted under ``field``."""
    try:
        return clean()
    except IdentityError as error:
        errors[field] = error
        return ""


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
    """Register a citizen: the SMS code proves the mobile number, giving assurance level 2.

    Every field's problem is reported at once (``errors`` of the refusal maps field to message), so a
    person corrects the form in one go rather than one field per submission.
    """
    errors: dict[str, IdentityError] = {}
    mobile = _checked(errors, "mobile", lambda: clean_mobile(mobile))
    number = _checked(errors, "document_number", lambda: clean_document(document_type, document_number))
    name = _checked(errors, "name", lambda: clean_name(name))
    try:
        password_validation.validate_password(password, User(username="probe", display_name=name))
    except ValidationError as exc:
        errors["password"] = IdentityError("weak_password", "；".join(exc.messages), field="password")
    if errors:
        # The first problem's code and field for programs; every field's message for people.
        field, first = next(iter(errors.items()))
        every_field = {key: error.detail for key, error in errors.items()}
        raise IdentityError(first.code, first.detail, field=field, errors=every_field)
    if find_person_by_mobile(mobile):
        raise IdentityError("mobile_taken", _("该手机号已注册，请直接登录"), field="mobile")
    verify_code(mobile, CodePurpose.REGISTER, code, ip=ip)
    with transaction.atomic():
        existing = find_person(document_type, number)
        if existing is not None:
            if hasattr(existing, "user"):
                raise IdentityError("person_exists", _("该证件号码已注册，请直接登录"), field="document_number")
            _check_claim(existing, name, mobile)
            person = existing
            set_mobile(person, mobile, verified=True)
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
        record_event(
            "account.registered",
            actor=user,
            target=f"accounts.Person:{person.pk}",
            ip=ip,
            detail={"claimed_existing_person": existing is not None},
        )
    return user


def _check_claim(person: Person, name: str, mobile: str) -> None:
    """Whether a registration may take over a person recorded without an account (e.g. at a counter).

    Knowing a document number proves nothing; the SMS code just verified proves
    the mobile, so the claim stands only when it is the mobile recorded for the
    person. Without one, only a counter that sees the document can open the account.
    """
    if not person.mobile_index or not hmac.compare_digest(person.mobile_index, mobile_index(mobile)):
        raise IdentityError(
            "claim_needs_counter",
            _("该证件号码已在办事窗口登记。请使用登记时留下的手机号注册，或携带身份证件到窗口开通网上账户"),
            field="document_number",
        )
    if person.name != name:
        raise IdentityError("claim_name_mismatch", _("姓名与窗口登记的信息不一致，请核对"), field="name")


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


# Per account and address: 5 free failures, then 1 minute, doubling with each further failure, up to a day.
PAIR_LOCK_BASE = dt.timedelta(minutes=1)
PAIR_LOCK_CAP = dt.timedelta(hours=24)
# Per account, from every address together: only ever a short wait, never a lock its owner cannot wait out.
ACCOUNT_FAILURES_BEFORE_SLOWDOWN = 50
ACCOUNT_SLOWDOWN_BASE = dt.timedelta(seconds=1)
ACCOUNT_SLOWDOWN_CAP = dt.timedelta(seconds=30)


@dataclass
class LoginOutcome:
    user: User
    needs_second_factor: bool
    needs_enrolment: bool


def _account_key(user: User | None, identifier: str) -> str:
    """The throttling name of the account tried: its id, or a digest of an identifier nobody holds.

    Unknown identifiers are counted like accounts, so that their refusals,
    locks included, read exactly like those of an existing account.
    """
    if user is not None:
        return f"user:{user.pk}"
    normalised = (identifier or "").strip()[:64].upper()
    digest = hmac.new(settings.SECRET_KEY.encode(), normalised.encode(), hashlib.sha256).hexdigest()[:32]
    return f"unknown:{digest}"


def _wait_text(until: dt.datetime) -> str:
    seconds = max(1, int((until - timezone.now()).total_seconds() + 0.999))
    if seconds < 60:
        return _("%(seconds)s秒") % {"seconds": seconds}
    return _("%(minutes)s分钟") % {"minutes": (seconds + 59) // 60}


def _password_matches(user: User | None, password: str) -> bool:
    """Check the password; for an unknown account hash it anyway, so both cost the same time."""
    if user is None:
        make_password(password)
        return False
    return user.check_password(password)


def _refuse_if_blocked(
    ip_key: str, pair_key: str, account_key: str, user: User | None, identifier: str, ip: str | None
) -> None:
    if ip_key and throttle_locked_until(ip_key):
        record_event("auth.login_throttled", ip=ip, detail={"identifier": _mask_identifier(identifier)})
        raise IdentityError("throttled", _("登录尝试过于频繁，请稍后再试"))
    if until := throttle_locked_until(pair_key):
        record_event("auth.login_locked", actor=user, ip=ip, detail={"identifier": _mask_identifier(identifier)})
        raise IdentityError("locked", _("登录失败次数过多，已暂时锁定，请%(wait)s后再试") % {"wait": _wait_text(until)})
    if until := throttle_locked_until(account_key):
        record_event("auth.login_slowed", actor=user, ip=ip, detail={"identifier": _mask_identifier(identifier)})
        raise IdentityError("throttled", _("登录尝试过于频繁，请%(wait)s后再试") % {"wait": _wait_text(until)})


def authenticate_password(identifier: str, password: str, *, ip: str | None = None) -> LoginOutcome:
    """Check a password, with growing delays per account and address, and throttling per address.

    An unknown account and a wrong password get the same refusal, cost the
    same time (the password is hashed either way) and lock alike, so that
    nobody can probe which accounts exist. Failures lock the account only for
    the address they came from, for a time that doubles with each further
    failure; failures from everywhere together only slow the account down
    (at most ``ACCOUNT_SLOWDOWN_CAP`` per attempt), so a stranger cannot lock
    its owner out.
    """
    user = _user_by_identifier(identifier)
    account_key = _account_key(user, identifier)
    ip_key = f"ip:{ip}" if ip else ""
    pair_key = f"{account_key}@{ip or '-'}"
    _refuse_if_blocked(ip_key, pair_key, account_key, user, identifier, ip)
    matches = _password_matches(user, password or "")
    if user is None or not user.is_active or not matches:
        if throttle_backoff(pair_key, free=PASSWORD_FAILURES_BEFORE_LOCK, base=PAIR_LOCK_BASE, cap=PAIR_LOCK_CAP):
            record_event("auth.account_locked", actor=user, ip=ip, detail={"identifier": _mask_identifier(identifier)})
        throttle_backoff(
            account_key, free=ACCOUNT_FAILURES_BEFORE_SLOWDOWN, base=ACCOUNT_SLOWDOWN_BASE, cap=ACCOUNT_SLOWDOWN_CAP
        )
        if ip_key:
            throttle_failure(ip_key, limit=IP_FAILURES_PER_WINDOW)
        record_event("auth.login_failed", actor=user, ip=ip, detail={"identifier": _mask_identifier(identifier)})
        raise IdentityError("invalid_credentials", _("账号或密码不正确"))
    throttle_clear(pair_key)
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
        raise IdentityError("invalid_credentials", _("该手机号未注册为个人账户"))
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
