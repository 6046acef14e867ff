"""Licence types and the life of a licence: issue (from a case decision or by staff), change, re-issue, revoke,
expire, supersede.

Every public function is one transaction that writes the licence rows, a
:class:`LicenceEvent` for the holder's history and an audit record. A licence
is never edited after issue except for its status: a change or a re-issue
issues the next version, which supersedes the old one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts import selectors as accounts_selectors
from yiwang.core import calendar, crypto, numbering, outbox
from yiwang.core.audit import record_event
from yiwang.core.identifiers import (
    LICENCE_ID_ARC,
    LICENCE_TYPE_CODE_LENGTH,
    credit_code_problem,
    make_licence_identifier,
)
from yiwang.licences import policy
from yiwang.licences.constants import EXPIRY_REMINDER_DAYS, FieldType, HolderKind, LicenceEventKind, LicenceStatus
from yiwang.licences.models import Licence, LicenceEvent, LicenceType
from yiwang.licences.services import _sealing
from yiwang.licences.services.errors import LicenceError

if TYPE_CHECKING:
    from yiwang.directory.models import Department
    from yiwang.licences.services.seal_types import Verification

FIELD_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_FIELDS = 30
MAX_VALUE_LENGTH = 500
REASON_MIN_LENGTH = 2
EXPIRY_TOPIC = "licences.expiry"
REMINDER_TOPIC = "licences.expiry_reminder"


# --- licence types ------------------------------------------------------------------------------


def _clean_fields(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or len(raw) > MAX_FIELDS:
        raise LicenceError("bad_fields", _("照面信息项应为不超过%(n)s项的列表") % {"n": MAX_FIELDS})
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in raw:
        if not isinstance(entry, Mapping):
            raise LicenceError("bad_fields", _("每个照面信息项须有名称和标识"))
        key, label = str(entry.get("key", "")), str(entry.get("label", "")).strip()
        if not FIELD_KEY_RE.fullmatch(key) or not label or key in seen:
            raise LicenceError("bad_fields", _("照面信息项标识无效或重复：%(key)s") % {"key": key or "—"})
        kind = str(entry.get("type", FieldType.TEXT))
        if kind not in FieldType.values:
            raise LicenceError("bad_fields", _("照面信息项类型无效：%(type)s") % {"type": kind})
        choices = [str(c) for c in entry.get("choices", [])] if kind == FieldType.CHOICE else []
        if kind == FieldType.CHOICE and not choices:
            raise LicenceError("bad_fields", _("选项类信息项须列出可选值：%(label)s") % {"label": label})
        seen.add(key)
        cleaned.append(
            {
                "key": key,
                "label": label[:60],
                "type": kind,
                "required": bool(entry.get("required", False)),
                "choices": choices,
                # The application form's field whose value fills this one, when its key differs.
                "source": str(entry.get("source", "")),
            }
        )
    return cleaned


def define_licence_type(
    *,
    actor: Any,
    department: Department,
    number: int,
    name: str,
    holder_kind: str,
    fields: list[dict[str, Any]],
    validity_years: int | None = None,
    item_codes: Iterable[str] = (),
    material_names: Iterable[str] = (),
    proves_identity: bool | None = None,
) -> LicenceType:
    """Create or update the licence type ``number`` (1-999) of ``department``; its code is the department's
    credit code and the 3-digit number (GB/T 36904 licence type code). ``actor=None`` is the platform (seed).

    ``proves_identity`` marks an identity licence (real-name level 4, ADR 0030); None leaves it as it is."""
    if actor is not None and not policy.can_manage_types(actor, department.code):
        raise LicenceError("forbidden", _("您没有权限管理该部门的证照类型"))
    if credit_code_problem(department.credit_code or ""):
        raise LicenceError("bad_department", _("发证部门缺少有效的统一社会信用代码"))
    if not 1 <= number <= 999:
        raise LicenceError("bad_number", _("证照类型序号应为1至999"))
    if holder_kind not in HolderKind.values:
        raise LicenceError("bad_holder_kind", _("持证主体类型无效"))
    if validity_years is not None and not 1 <= validity_years <= 100:
        raise LicenceError("bad_validity", _("有效期应为1至100年，或不设期限"))
    name = name.strip()
    if not name:
        raise LicenceError("name_required", _("请填写证照名称"))
    # Level 4 rests on the person holding the licence: an organisation's licence proves no one's identity.
    if proves_identity and holder_kind != HolderKind.PERSON:
        raise LicenceError(
            "bad_identity_holder", _("只有持证主体为自然人的证照可用于实名核验"), field="proves_identity"
        )
    code = f"{department.credit_code}{number:03d}"
    assert len(code) == LICENCE_TYPE_CODE_LENGTH
    values = {
        "name": name[:100],
        "department": department,
        "holder_kind": holder_kind,
        "fields": _clean_fields(fields),
        "validity_years": validity_years,
        "item_codes": sorted({c.strip() for c in item_codes if c.strip()}),
        "material_names": sorted({n.strip() for n in material_names if n.strip()}),
    }
    if proves_identity is not None:
        values["proves_identity"] = proves_identity
    with transaction.atomic():
        licence_type, created = LicenceType.objects.update_or_create(code=code, defaults=values)
        record_event(
            "licence_type.created" if created else "licence_type.updated",
            actor=actor,
            target=f"licences.LicenceType:{code}",
            detail={"name": name, "proves_identity": licence_type.proves_identity},
        )
    return licence_type


# --- values -------------------------------------------------------------------------------------


def _clean_value(field: Mapping[str, Any], raw: Any) -> str:
    value = " ".join(str(raw if raw is not None else "").split())[:MAX_VALUE_LENGTH]
    if not value:
        return ""
    label = field["label"]
    if field["type"] == FieldType.DATE:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise LicenceError("bad_value", _("%(label)s应为日期（年-月-日）") % {"label": label}) from None
    if field["type"] == FieldType.NUMBER:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise LicenceError("bad_value", _("%(label)s应为数字") % {"label": label}) from None
        if not number.is_finite():
            raise LicenceError("bad_value", _("%(label)s应为数字") % {"label": label})
        return str(number)
    if field["type"] == FieldType.CHOICE and value not in field["choices"]:
        raise LicenceError("bad_value", _("%(label)s不是可选值之一") % {"label": label})
    return value


def clean_data(licence_type: LicenceType, raw: Mapping[str, Any], *, strict: bool = True) -> dict[str, str]:
    """The licence's field values, typed and checked; unknown keys dropped.

    ``strict`` refuses a missing required value; issuance from a case is not
    strict (the case has been decided: a gap is recorded, not a reason to lose
    the licence).
    """
    data: dict[str, str] = {}
    for field in licence_type.fields:
        value = _clean_value(field, raw.get(field["key"], ""))
        if not value and field["required"] and strict:
            raise LicenceError("value_required", _("请填写：%(label)s") % {"label": field["label"]}, field=field["key"])
        data[field["key"]] = value
    return data


def valid_until_for(licence_type: LicenceType, issued_on: dt.date) -> dt.date | None:
    """The last day of validity: ``validity_years`` from the issue date, less a day; None when unlimited."""
    if licence_type.validity_years is None:
        return None
    years = licence_type.validity_years
    try:
        end = issued_on.replace(year=issued_on.year + years)
    except ValueError:  # 29 February into a common year
        end = issued_on.replace(year=issued_on.year + years, day=28) + dt.timedelta(days=1)
    return end - dt.timedelta(days=1)


# --- claims and sealing -------------------------------------------------------------------------


def claims_of(licence: Licence) -> dict[str, Any]:
    """What the seal covers and the QR carries: identifier, type, holder, fields, dates, issuer."""
    return {
        "id": licence.identifier,
        "type": licence.licence_type.code,
        "name": licence.licence_type.name,
        "holder": licence.holder_name,
        "holder_code": licence.holder_code,
        "fields": licence.data,
        "issued": licence.issued_on.isoformat(),
        "expires": licence.valid_until.isoformat() if licence.valid_until else "",
        "issuer": licence.department.name,
        "issuer_code": licence.department.credit_code,
    }


def _holder_document(licence: Licence) -> str:
    if licence.holder_person_id is not None and licence.holder_organisation_id is None:
        return crypto.decrypt(accounts_selectors.get_person(licence.holder_person_id).document_number_encrypted)
    return licence.holder_code


def _seal(licence: Licence, holder_document: str | None = None) -> None:
    """Sign the licence's claims and its QR payload (the row is saved by the caller).

    ``holder_document``: the holder's document number when the caller has it at hand (else it is read again).
    """
    seal = _sealing.signing_seal(licence.department.code)
    result = _sealing.seal_claims(claims_of(licence), department_code=licence.department.code, seal=seal)
    licence.signer_key_id = result.key_id
    licence.digest = result.digest
    licence.signature = result.signature
    licence.qr_payload = _sealing.qr_payload(
        department_code=licence.department.code,
        licence_id=qr_licence_id(licence.identifier),
        licence_type=licence.licence_type.name,
        holder_name=licence.holder_name,
        holder_document=holder_document if holder_document is not None else _holder_document(licence),
        issued_on=licence.issued_on,
        expires_on=licence.valid_until,
        digest_hex=result.digest,
        fields=[(f["label"], str(licence.data.get(f["key"], ""))) for f in licence.licence_type.fields],
        seal=seal,
    )


def qr_licence_id(identifier: str) -> str:
    """The licence id as the QR payload carries it: without the constant arc ``1.2.156.3005.2.`` (the payload
    allows 64 characters; a GB/T 36904 identifier has about 70). Verifiers put the arc back."""
    return identifier.removeprefix(LICENCE_ID_ARC + ".")


def seal_verification(licence: Licence) -> Verification | None:
    """The seals' verification of the licence's claims (None: unsigned and its digest matches)."""
    return _sealing.verify_claims(
        claims_of(licence), key_id=licence.signer_key_id, signature=licence.signature, digest=licence.digest
    )


def seal_intact(licence: Licence) -> bool:
    """Whether the stored seal still matches the licence's claims (a changed row is detected)."""
    verification = seal_verification(licence)
    return verification is None or verification.ok


# --- issuing ------------------------------------------------------------------------------------


def _actor_label(actor: Any) -> str:
    if actor is None:
        return "系统"
    return str(getattr(actor, "display_name", "") or actor.get_username())


def add_event(licence: Licence, kind: str, *, actor: Any = None, **detail: Any) -> LicenceEvent:
    return LicenceEvent.objects.create(
        licence=licence, kind=kind, actor=actor, actor_label=_actor_label(actor), detail=detail
    )


def _holder(licence_type: LicenceType, person_id: int, organisation_id: int | None) -> tuple[dict[str, Any], str]:
    """The holder's columns of a new licence, and the document number its QR payload digests."""
    use_organisation = licence_type.holder_kind == HolderKind.ORGANISATION or (
        licence_type.holder_kind == HolderKind.APPLICANT and organisation_id is not None
    )
    if use_organisation:
        if organisation_id is None:
            raise LicenceError("organisation_required", _("该证照须由单位持有，申请人未以单位名义申请"))
        organisation = accounts_selectors.get_organisation(organisation_id)
        holder = {
            "holder_kind": HolderKind.ORGANISATION,
            "holder_person_id": None,
            "holder_organisation_id": organisation.pk,
            "holder_name": organisation.name,
            "holder_code": organisation.credit_code,
        }
        return holder, organisation.credit_code
    person = accounts_selectors.get_person(person_id)
    holder = {
        "holder_kind": HolderKind.PERSON,
        "holder_person_id": person.pk,
        "holder_organisation_id": None,
        "holder_name": person.name,
        "holder_code": person.document_number_masked,
    }
    return holder, crypto.decrypt(person.document_number_encrypted)


def _schedule_expiry(licence: Licence) -> None:
    if licence.valid_until is None:
        return
    today = calendar.today_local()
    remind_on = licence.valid_until - dt.timedelta(days=EXPIRY_REMINDER_DAYS)
    outbox.publish_many(
        [
            (REMINDER_TOPIC, {"licence_id": licence.pk}, dt.timedelta(days=max((remind_on - today).days, 0))),
            (
                EXPIRY_TOPIC,
                {"licence_id": licence.pk},
                dt.timedelta(days=max((licence.valid_until - today).days + 1, 0)),
            ),
        ]
    )


def _create(
    licence_type: LicenceType,
    *,
    holder: Mapping[str, Any],
    data: dict[str, str],
    department: Department,
    issued_on: dt.date,
    case_number: str = "",
    issuance_key: str | None = None,
    previous: Licence | None = None,
    holder_document: str | None = None,
) -> Licence:
    if previous is not None:
        serial, version = previous.serial, previous.version + 1
    else:
        serial, version = numbering.next_value(LicenceType, {"code": licence_type.code}, counter="last_serial"), 1
    licence = Licence(
        identifier=make_licence_identifier(licence_type.code, department.credit_code, serial, version),
        licence_type=licence_type,
        serial=serial,
        version=version,
        previous=previous,
        department=department,
        data=data,
        issued_on=issued_on,
        valid_until=valid_until_for(licence_type, issued_on),
        case_number=case_number,
        issuance_key=issuance_key,
        verification_code=numbering.verification_code(8),
        **holder,
    )
    # Sealed before the row is written: one INSERT instead of an INSERT and an UPDATE of the seal's columns.
    _seal(licence, holder_document)
    licence.save(force_insert=True)
    _schedule_expiry(licence)
    return licence


def issue_licence(
    *,
    actor: Any,
    licence_type: LicenceType,
    person_id: int,
    organisation_id: int | None = None,
    data: Mapping[str, Any],
    issued_on: dt.date | None = None,
    case_number: str = "",
) -> Licence:
    """Issue a licence of ``licence_type`` by hand (staff of its department; ``actor=None`` for seed data)."""
    if actor is not None and not policy.can_issue(actor, licence_type.department.code):
        raise LicenceError("forbidden", _("您没有权限签发该部门的证照"))
    if not licence_type.active:
        raise LicenceError("type_inactive", _("该证照类型已停用"))
    cleaned = clean_data(licence_type, data)
    with transaction.atomic():
        holder, document = _holder(licence_type, person_id, organisation_id)
        licence = _create(
            licence_type,
            holder=holder,
            holder_document=document,
            data=cleaned,
            department=licence_type.department,
            issued_on=issued_on or calendar.today_local(),
            case_number=case_number,
        )
        add_event(licence, LicenceEventKind.ISSUED, actor=actor, case=case_number)
        record_event("licence.issued", actor=actor, target=f"licences.Licence:{licence.identifier}")
    return licence


def _licence_types() -> list[LicenceType]:
    """Every licence type with its department: read once per group of outbox events handled together."""
    memo = outbox.group_memo()
    if memo is not None and "licences.types" in memo:
        cached: list[LicenceType] = memo["licences.types"]
        return cached
    types = list(LicenceType.objects.select_related("department"))
    if memo is not None:
        memo["licences.types"] = types
    return types


def issue_for_case(*, case: Any, event_id: int) -> list[Licence]:
    """Issue every licence the case's item issues, once: the certificate stage (制证) of ``case`` completed.

    Holder: the case's organisation when the type is held by organisations
    (or by the applicant and one applied), otherwise the applicant person.
    Fields: the application form's values whose keys match (or the field's
    ``source``). Issue date: the decision date (Asia/Shanghai). Idempotent:
    the first version's ``issuance_key`` is made of the case and the type, so
    the same event (or a repeated 制证) finds the licence already issued.
    """
    issued: list[Licence] = []
    types = [t for t in _licence_types() if t.active and case.item_code in t.item_codes]
    form_data = {str(k): v for k, v in (case.application.form_data or {}).items()}
    decided = case.decided_at or timezone.now()
    issued_on = timezone.localtime(decided, calendar.SHANGHAI).date()
    for licence_type in types:
        key = f"case:{case.pk}:type:{licence_type.pk}"
        # No savepoint of its own when the caller's transaction is open (the outbox handler's, one per event
        # or per group): a failure here fails the whole event anyway, and a savepoint is two more statements.
        with transaction.atomic(savepoint=False):
            existing = Licence.objects.filter(issuance_key=key).first()
            if existing is not None:
                issued.append(existing)
                continue
            source = {f["key"]: form_data.get(f.get("source") or f["key"], "") for f in licence_type.fields}
            try:
                data = clean_data(licence_type, source, strict=False)
            except LicenceError:
                data = clean_data(licence_type, {}, strict=False)
            missing = [f["label"] for f in licence_type.fields if f["required"] and not data.get(f["key"])]
            holder, document = _holder(licence_type, case.applicant_person_id, case.applicant_organisation_id)
            licence = _create(
                licence_type,
                holder=holder,
                holder_document=document,
                data=data,
                department=case.department,
                issued_on=issued_on,
                case_number=case.number,
                issuance_key=key,
            )
            add_event(licence, LicenceEventKind.ISSUED, case=case.number, event=event_id, missing=missing)
            record_event(
                "licence.issued",
                actor=None,
                target=f"licences.Licence:{licence.identifier}",
                detail={"case": case.number},
            )
            issued.append(licence)
    return issued


# --- changes of status --------------------------------------------------------------------------


def _locked(licence: Licence) -> Licence:
    return Licence.objects.select_for_update().select_related("licence_type", "department").get(pk=licence.pk)


def _check_manage(actor: Any, licence: Licence) -> None:
    if not policy.can_view(actor, licence):
        raise LicenceError("not_found", _("电子证照不存在"))
    if not policy.can_manage(actor, licence):
        record_event("permission.denied", actor=actor, target=f"licences.Licence:{licence.identifier}")
        raise LicenceError("forbidden", _("只有发证部门的审批人员或管理员可以办理"))


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if len(reason) < REASON_MIN_LENGTH:
        raise LicenceError("reason_required", _("请写明理由"))
    return reason[:500]


def _require_current(licence: Licence, today: dt.date) -> None:
    status = licence.effective_status(today)
    if status != LicenceStatus.VALID:
        raise LicenceError(
            "licence_not_valid",
            _("该证照当前状态为“%(status)s”，不能办理") % {"status": LicenceStatus(status).label},
        )


def _supersede(old: Licence, new: Licence, *, actor: Any, reason: str) -> None:
    old.status = LicenceStatus.SUPERSEDED
    old.status_reason = reason
    old.status_changed_at = timezone.now()
    old.save(update_fields=["status", "status_reason", "status_changed_at"])
    add_event(old, LicenceEventKind.SUPERSEDED, actor=actor, by=new.identifier, reason=reason)


def change_licence(licence: Licence, *, actor: Any, data: Mapping[str, Any], reason: str) -> Licence:
    """变更: issue the next version with changed field values; the old version is superseded."""
    _check_manage(actor, licence)
    reason = _reason(reason)
    with transaction.atomic():
        old = _locked(licence)
        _require_current(old, calendar.today_local())
        merged = {**old.data, **data}
        cleaned = clean_data(old.licence_type, merged)
        holder = {f: getattr(old, f) for f in ("holder_kind", "holder_name", "holder_code")}
        holder |= {"holder_person_id": old.holder_person_id, "holder_organisation_id": old.holder_organisation_id}
        new = _create(
            old.licence_type,
            holder=holder,
            data=cleaned,
            department=old.department,
            issued_on=calendar.today_local(),
            case_number=old.case_number,
            previous=old,
        )
        _supersede(old, new, actor=actor, reason=reason)
        add_event(new, LicenceEventKind.CHANGED, actor=actor, previous=old.identifier, reason=reason)
        record_event("licence.changed", actor=actor, target=f"licences.Licence:{new.identifier}")
    return new


def reissue_licence(licence: Licence, *, actor: Any, reason: str) -> Licence:
    """补发/换发: issue the next version with the same fields (the validity starts again); the old is superseded."""
    _check_manage(actor, licence)
    reason = _reason(reason)
    with transaction.atomic():
        old = _locked(licence)
        if old.status in {LicenceStatus.REVOKED, LicenceStatus.SUPERSEDED}:
            _require_current(old, calendar.today_local())
        holder = {f: getattr(old, f) for f in ("holder_kind", "holder_name", "holder_code")}
        holder |= {"holder_person_id": old.holder_person_id, "holder_organisation_id": old.holder_organisation_id}
        new = _create(
            old.licence_type,
            holder=holder,
            data=dict(old.data),
            department=old.department,
            issued_on=calendar.today_local(),
            case_number=old.case_number,
            previous=old,
        )
        _supersede(old, new, actor=actor, reason=reason)
        add_event(new, LicenceEventKind.REISSUED, actor=actor, previous=old.identifier, reason=reason)
        record_event("licence.reissued", actor=actor, target=f"licences.Licence:{new.identifier}")
    return new


def revoke_licence(licence: Licence, *, actor: Any, reason: str) -> Licence:
    """注销/吊销: the licence is revoked with the stated reason; anyone checking it sees so."""
    _check_manage(actor, licence)
    reason = _reason(reason)
    with transaction.atomic():
        locked = _locked(licence)
        if locked.status in {LicenceStatus.REVOKED, LicenceStatus.SUPERSEDED}:
            _require_current(locked, calendar.today_local())
        locked.status = LicenceStatus.REVOKED
        locked.status_reason = reason
        locked.status_changed_at = timezone.now()
        locked.save(update_fields=["status", "status_reason", "status_changed_at"])
        add_event(locked, LicenceEventKind.REVOKED, actor=actor, reason=reason)
        record_event("licence.revoked", actor=actor, target=f"licences.Licence:{locked.identifier}")
    return locked


def expire_licence(licence_id: int, *, today: dt.date | None = None) -> bool:
    """Mark a valid licence past its last day as expired (the delayed outbox job); True if it changed."""
    today = today or calendar.today_local()
    with transaction.atomic():
        licence = Licence.objects.select_for_update().filter(pk=licence_id).first()
        if licence is None or licence.effective_status(today) != LicenceStatus.EXPIRED:
            return False
        if licence.status == LicenceStatus.EXPIRED:
            return False
        licence.status = LicenceStatus.EXPIRED
        licence.status_changed_at = timezone.now()
        licence.save(update_fields=["status", "status_changed_at"])
        add_event(
            licence, LicenceEventKind.EXPIRED, until=licence.valid_until.isoformat() if licence.valid_until else ""
        )
    return True


def expire_due_licences(*, today: dt.date | None = None) -> int:
    """Mark every valid licence past its last day as expired (a sweep beside the per-licence jobs)."""
    today = today or calendar.today_local()
    ids = list(
        Licence.objects.filter(status=LicenceStatus.VALID, valid_until__lt=today).values_list("pk", flat=True)[:10000]
    )
    return sum(expire_licence(pk, today=today) for pk in ids)
