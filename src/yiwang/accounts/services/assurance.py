"""Real-name levels 3 and 4 (ADR 0030): raising a person's level on recorded evidence.

- Level 3 (身份信息核验), either at a counter, where a counter clerk checks the
  original identity document (:func:`record_counter_check`), or online, where
  the person's name and resident ID are matched against household
  registration through the data-sharing exchange, for a person whose mobile
  is confirmed (:func:`verify_by_household_register`).
- Level 4 (当面核验并核验电子身份证照): the counter check together with a valid
  identity e-licence (居民身份证电子证照) held in the person's wallet.

Each check writes an :class:`AssuranceRecord` with its evidence (method, the
clerk, a digest of the document number, the exchange id, the licence) and an
audit event; a level is never lowered by a later check. The exchange and the
wallet sit above this app: they answer through ``core.assurance_sources``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts import policy
from yiwang.accounts.constants import (
    ASSURANCE_CHECKED_EVENT,
    ASSURANCE_LOOKUP_EVENT,
    ASSURANCE_RAISED_EVENT,
    ASSURANCE_REFUSED_EVENT,
    AssuranceLevel,
    AssuranceMethod,
)
from yiwang.accounts.models import AssuranceRecord, Person, User
from yiwang.accounts.services.errors import IdentityError
from yiwang.accounts.services.people import clean_document, find_person, require_person
from yiwang.accounts.services.throttling import throttle_clear, throttle_failure, throttle_locked_until
from yiwang.core import assurance_sources, crypto
from yiwang.core.audit import record_event
from yiwang.core.identifiers import DocumentType

# Failed household-registration matches a person may make before the online route rests for a day.
MATCH_FAILURES_BEFORE_LOCK = 3
MATCH_LOCK = dt.timedelta(hours=24)


def document_digest(document_type: str, number: str) -> str:
    """A keyed digest of a checked document number: proves later which document it was, reveals nothing."""
    return crypto.blind_index(f"{document_type}:{number}", "assurance_document")


def _label(person: Person) -> str:
    return f"{person.name[:1]}*"


def _baseline(person: Person) -> None:
    """Keep how the person's current level was reached before a check first moves it (the page shows each level)."""
    if person.assurance_level < AssuranceLevel.MOBILE_VERIFIED:
        return  # level 1 rests on nothing but what the person typed
    if AssuranceRecord.objects.filter(person=person).exists():
        return
    AssuranceRecord.objects.create(
        person=person,
        level=person.assurance_level,
        method=person.assurance_method,
        occurred_at=person.assurance_at,
    )


@dataclass(frozen=True)
class _Evidence:
    level: int
    method: str
    checked_by: User | None = None
    department_name: str = ""
    document_type: str = ""
    document_digest: str = ""
    exchange_id: str = ""
    licence: assurance_sources.IdentityLicence | None = None


def _record(person: Person, evidence: _Evidence, *, actor: User, ip: str | None) -> AssuranceRecord:
    """Write the evidence, raise the level when it is higher, audit; inside one transaction."""
    with transaction.atomic():
        locked = Person.objects.select_for_update().get(pk=person.pk)
        _baseline(locked)
        raised = evidence.level > locked.assurance_level
        now = timezone.now()
        licence = evidence.licence
        record = AssuranceRecord.objects.create(
            person=locked,
            level=evidence.level,
            method=evidence.method,
            checked_by=evidence.checked_by,
            checked_by_label=str(evidence.checked_by) if evidence.checked_by is not None else "",
            department_name=evidence.department_name,
            document_type=evidence.document_type,
            document_digest=evidence.document_digest,
            exchange_id=evidence.exchange_id,
            licence_id=licence.licence_id if licence else None,
            licence_identifier=licence.identifier if licence else "",
            licence_type_name=licence.type_name if licence else "",
            raised=raised,
            occurred_at=now,
        )
        if raised:
            locked.assurance_level = evidence.level
            locked.assurance_method = evidence.method
            locked.assurance_at = now
            locked.save(update_fields=["assurance_level", "assurance_method", "assurance_at"])
        record_event(
            ASSURANCE_RAISED_EVENT if raised else ASSURANCE_CHECKED_EVENT,
            actor=actor,
            on_behalf_of_person_id=locked.pk,
            on_behalf_of_label=_label(locked),
            target=f"accounts.AssuranceRecord:{record.pk}",
            ip=ip,
            detail={
                "level": evidence.level,
                "method": evidence.method,
                "exchange_id": evidence.exchange_id,
                "licence_id": licence.licence_id if licence else None,
            },
        )
    person.refresh_from_db()
    return record


def _refuse(
    actor: User,
    person: Person | None,
    code: str,
    detail: str,
    *,
    ip: str | None,
    field: str | None = None,
    exchange_id: str = "",
) -> IdentityError:
    """Audit a refused check and hand back the error (with the exchange id, when a request was made) to raise."""
    record_event(
        ASSURANCE_REFUSED_EVENT,
        actor=actor,
        on_behalf_of_person_id=person.pk if person else None,
        on_behalf_of_label=_label(person) if person else "",
        ip=ip,
        detail={"code": code, "exchange_id": exchange_id},
    )
    if exchange_id:
        return IdentityError(code, detail, field=field, exchange_id=exchange_id)
    return IdentityError(code, detail, field=field)


# --- at the counter ----------------------------------------------------------------------------------------


def _require_checker(actor: User, action: str, ip: str | None) -> None:
    if not policy.may_record_identity_check(actor):
        record_event("permission.denied", actor=actor, ip=ip, detail={"action": action})
        raise IdentityError("forbidden", _("只有窗口受理人员可以记录当面核验"))


def find_person_at_counter(*, actor: User, document_type: str, document_number: str, ip: str | None = None) -> Person:
    """A counter clerk looks up the person in front of them by the document they hold (audited)."""
    _require_checker(actor, "assurance_lookup", ip)
    number = clean_document(document_type, document_number)
    person = find_person(document_type, number)
    if person is None:
        raise IdentityError("person_unknown", _("未找到该证件号码登记的人员，请先为其登记"), field="document_number")
    record_event(
        ASSURANCE_LOOKUP_EVENT,
        actor=actor,
        on_behalf_of_person_id=person.pk,
        on_behalf_of_label=_label(person),
        ip=ip,
    )
    return person


def valid_identity_licence(person_id: int, licence_id: int) -> assurance_sources.IdentityLicence | None:
    """The person's identity e-licence ``licence_id`` if it is valid today; None otherwise."""
    for licence in assurance_sources.identity_licences(person_id):
        if licence.licence_id == licence_id and licence.valid:
            return licence
    return None


def record_counter_check(
    *,
    actor: User,
    document_type: str,
    document_number: str,
    original_checked: bool,
    licence_id: int | None = None,
    ip: str | None = None,
) -> AssuranceRecord:
    """A counter clerk records that they checked, face to face, the original document of the person it names.

    Level 3 (method ``counter``); with ``licence_id``, one of the person's
    identity e-licences that is valid today, level 4 (``counter_licence``).
    Refusals: ``forbidden`` (not a counter clerk), ``identity_check_required``
    (the original was not checked), ``invalid_document`` /
    ``invalid_document_type``, ``person_unknown``, ``licence_invalid`` (not
    the person's, not an identity licence, revoked or expired).
    """
    _require_checker(actor, "assurance_counter_check", ip)
    if not original_checked:
        raise IdentityError("identity_check_required", _("请先当面核验证件原件"), field="original_checked")
    number = clean_document(document_type, document_number)
    person = find_person(document_type, number)
    if person is None:
        raise IdentityError("person_unknown", _("未找到该证件号码登记的人员，请先为其登记"), field="document_number")
    licence = None
    if licence_id is not None:
        licence = valid_identity_licence(person.pk, licence_id)
        if licence is None:
            raise _refuse(
                actor,
                person,
                "licence_invalid",
                _("该电子证照不是本人有效的身份证照（可能已注销或已过期），不能用于四级核验"),
                ip=ip,
                field="licence",
            )
    evidence = _Evidence(
        level=AssuranceLevel.IN_PERSON if licence else AssuranceLevel.IDENTITY_VERIFIED,
        method=AssuranceMethod.COUNTER_WITH_LICENCE if licence else AssuranceMethod.COUNTER,
        checked_by=actor,
        department_name=policy.primary_department_name(actor),
        document_type=document_type,
        document_digest=document_digest(document_type, number),
        licence=licence,
    )
    return _record(person, evidence, actor=actor, ip=ip)


def record_counter_registration(person: Person, *, actor: User, number: str, ip: str | None) -> AssuranceRecord:
    """The evidence of a walk-in registered at a counter after the clerk checked the original (level 3)."""
    evidence = _Evidence(
        level=AssuranceLevel.IDENTITY_VERIFIED,
        method=AssuranceMethod.COUNTER,
        checked_by=actor,
        department_name=policy.primary_department_name(actor),
        document_type=person.document_type,
        document_digest=document_digest(person.document_type, number),
    )
    return _record(person, evidence, actor=actor, ip=ip)


# --- online, against household registration ----------------------------------------------------------------


def household_match_problem(person: Person) -> tuple[str, str] | None:
    """Why the person cannot use the household-registration route now, as (code, detail); None if they can."""
    if person.assurance_level >= AssuranceLevel.IDENTITY_VERIFIED:
        return "already_verified", _("您的实名等级已达到三级或以上，无需再比对户籍信息")
    if person.mobile_verified_at is None:
        return "mobile_unconfirmed", _("请先验证本人手机号码，再进行户籍信息比对")
    if person.document_type != DocumentType.RESIDENT_ID:
        return "document_type_unsupported", _("户籍信息比对只适用于居民身份证，请持证件到窗口核验")
    if assurance_sources.register_matcher() is None:
        return "route_unavailable", _("户籍信息比对暂不可用，请到窗口核验")
    return None


def _match_key(person: Person) -> str:
    return f"assurance-match:{person.pk}"


def verify_by_household_register(*, actor: User, consent: bool, ip: str | None = None) -> AssuranceRecord:
    """The person matches their name and resident ID against household registration to reach level 3.

    Needs a confirmed mobile and the person's consent to the one request; the
    match is asked through the data-sharing exchange, which records it (the
    person sees it in 谁用了我的数据). Refusals: ``not_a_person``,
    ``consent_required``, ``already_verified``, ``mobile_unconfirmed``,
    ``document_type_unsupported``, ``route_unavailable``, ``locked`` (too many
    failed matches), and the matcher's reasons (``name_mismatch``,
    ``no_record``, ``provider_unavailable`` …) with the exchange id.

    Call it outside any transaction: the exchange commits its record of a
    refused request before refusing.
    """
    person = require_person(actor)
    problem = household_match_problem(person)
    if problem is not None:
        raise _refuse(actor, person, problem[0], problem[1], ip=ip)
    if not consent:
        raise IdentityError("consent_required", _("请阅读并同意向公安户籍部门核对您的姓名和身份号码"), field="consent")
    if throttle_locked_until(_match_key(person)):
        raise _refuse(actor, person, "locked", _("比对未通过的次数过多，请明天再试或到窗口核验"), ip=ip)
    matcher = assurance_sources.register_matcher()
    assert matcher is not None  # checked by household_match_problem
    match = matcher(actor, person)
    if not match.matched:
        if match.code != "provider_unavailable":
            throttle_failure(_match_key(person), limit=MATCH_FAILURES_BEFORE_LOCK, window=MATCH_LOCK, lock=MATCH_LOCK)
        raise _refuse(
            actor,
            person,
            match.code or "no_match",
            match.detail or _("户籍信息比对未通过"),
            ip=ip,
            exchange_id=match.exchange_id,
        )
    throttle_clear(_match_key(person))
    evidence = _Evidence(
        level=AssuranceLevel.IDENTITY_VERIFIED,
        method=AssuranceMethod.HOUSEHOLD_REGISTER,
        document_type=person.document_type,
        exchange_id=match.exchange_id,
    )
    return _record(person, evidence, actor=actor, ip=ip)
