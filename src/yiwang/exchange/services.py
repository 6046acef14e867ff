"""Data sharing: the provider's policy over every request, consent, exchanges, and materials fetched into
applications (免提交).

Every request goes through :func:`request_data`: the service must exist, the
fields must be known and no wider than the provider's policy allows, a
conditional share needs a purpose and (for a person's data) the person's
live consent, and only the fields asked for come back. Each request that
reaches the provider's policy is recorded as an :class:`ExchangeRecord` with
an exchange id, refused ones included, and an answered one about a person is
put in their "谁用了我的数据" list (``accounts``). The provider is reached
through a transport (:mod:`yiwang.exchange.transports`), so a service held by
another node is called the same way.

Refusals are committed before they are raised: call these functions outside
any transaction that the refusal would roll back.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts import services as accounts_services
from yiwang.cases import selectors as cases_selectors
from yiwang.cases import services as cases_services
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import crypto
from yiwang.core.api_access import ServiceCaller
from yiwang.core.assurance_sources import RegisterMatch
from yiwang.core.audit import record_event
from yiwang.core.identifiers import DocumentType, credit_code_problem, resident_id_problem
from yiwang.core.material_sources import MaterialNeed, MaterialOffer
from yiwang.directory import selectors as directory_selectors

from . import policy, transports
from .constants import (
    CONSENT_DAYS_CHOICES,
    CONSENT_GIVEN_EVENT,
    CONSENT_REVOKED_EVENT,
    EXCHANGE_EVENT,
    LOCAL_TRANSPORT,
    REAL_NAME_CONSUMER,
    REAL_NAME_FIELDS,
    REAL_NAME_SERVICE,
    REFUSAL_RULES,
    SHARE_STRICTNESS,
    SHARED_MATERIAL_EVENT,
    Outcome,
    ShareType,
    SubjectKind,
)
from .errors import ExchangeError
from .models import Consent, DataService, ExchangeRecord, ResourceField, SharedMaterial, SharedMaterialSaving
from .sources import Subject

__all__ = [
    "ExchangeError",
    "ExchangeResult",
    "Subject",
    "confirm_material",
    "fetch_material",
    "give_consent",
    "has_live_consent",
    "match_household_register",
    "material_offers",
    "record_savings",
    "release_material",
    "request_data",
    "revoke_consent",
    "subject_for_credit_code",
    "subject_for_id_number",
    "subject_for_person",
]


# --- subjects -------------------------------------------------------------------------------------------


def person_index(id_number: str) -> str:
    """The blind index of a resident ID, the same as ``accounts.Person.document_number_index``."""
    return crypto.blind_index(f"{DocumentType.RESIDENT_ID}:{id_number}", "document_number")


def subject_for_id_number(id_number: str) -> Subject:
    """A person as the subject of a request, by resident ID (checked, then kept only as its blind index)."""
    number = (id_number or "").strip().upper()
    if resident_id_problem(number):
        raise ExchangeError("invalid_subject", _("公民身份号码不正确"), field="subject")
    person = accounts_services.find_person(DocumentType.RESIDENT_ID, number)
    return Subject(
        SubjectKind.PERSON,
        person_index(number),
        crypto.mask_id_number(number),
        person.pk if person else None,
        number=number,
    )


def subject_for_person(person: Any) -> Subject:
    """A platform person as the subject of a request (their stored index: nothing is decrypted)."""
    return Subject(SubjectKind.PERSON, person.document_number_index, person.document_number_masked, person.pk)


def subject_for_credit_code(credit_code: str) -> Subject:
    """An organisation as the subject of a request, by its unified social credit code."""
    code = (credit_code or "").strip().upper()
    if credit_code_problem(code):
        raise ExchangeError("invalid_subject", _("统一社会信用代码不正确"), field="subject")
    return Subject(SubjectKind.ORGANISATION, code, code)


# --- the provider's policy ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExchangeResult:
    """What a request answered: the exchange id and the values of exactly the fields asked for."""

    exchange_id: str
    service_code: str
    data: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)
    fetched_at: dt.datetime = field(default_factory=timezone.now)


def new_exchange_id() -> str:
    """EX + the date (China time) + 10 random hex digits: unique, unguessable, sortable by day."""
    today = timezone.localdate().strftime("%Y%m%d")
    return f"EX{today}{secrets.token_hex(5).upper()}"


def active_service(code: str) -> DataService:
    service = (
        DataService.objects.select_related("resource__department")
        .filter(code=code, active=True, resource__active=True)
        .first()
    )
    if service is None:
        raise ExchangeError("not_found", _("数据服务不存在"))
    return service


def resource_fields(service: DataService) -> list[ResourceField]:
    return list(service.resource.fields.all())


def effective_share_type(service: DataService, field_row: ResourceField) -> str:
    """A field is shared on the stricter of its own and its resource's terms."""
    resource_type = service.resource.share_type
    return max(resource_type, field_row.share_type, key=lambda t: SHARE_STRICTNESS[ShareType(t)])


def shareable_fields(service: DataService) -> list[ResourceField]:
    """The fields a consumer may ever ask for (not 不予共享)."""
    return [f for f in resource_fields(service) if effective_share_type(service, f) != ShareType.NOT_SHARED]


def live_consent(service: DataService, person_id: int | None, consumer_id: int, wanted: Sequence[str]) -> Consent:
    """The person's consent that covers these fields for this consumer now; refuses naming why there is none.

    The refusal says ``consent_revoked`` or ``consent_expired`` when the
    latest consent that would have covered the request was revoked or ran
    out, so the consumer (and the person) can tell the cases apart.
    """
    if person_id is None:
        raise ExchangeError(
            "consent_required",
            _("有条件共享的数据需要信息主体本人授权，而该信息主体尚未在平台登记"),
            rule="consent:required",
        )
    now = timezone.now()
    candidates = Consent.objects.filter(person_id=person_id, service=service).filter(
        Q(consumer_id=consumer_id) | Q(consumer__isnull=True)
    )
    covering = [c for c in candidates if set(wanted) <= set(c.fields)]
    for consent in covering:
        if consent.is_active(now):
            return consent
    if covering:
        latest = max(covering, key=lambda c: (c.given_at, c.pk))
        if latest.revoked_at is not None:
            raise ExchangeError("consent_revoked", _("信息主体已撤回对该数据的授权"), rule="consent:revoked")
        raise ExchangeError("consent_expired", _("信息主体对该数据的授权已过期"), rule="consent:expired")
    raise ExchangeError(
        "consent_required", _("有条件共享的数据需要信息主体本人授权，尚未取得授权"), rule="consent:required"
    )


def consent_evidence(consent: Consent) -> dict[str, Any]:
    """What this node asserts to a provider on another node about the consent it relies on (ADR 0028)."""
    return {
        "id": consent.pk,
        "consumer": consent.consumer.code if consent.consumer is not None else "",
        "fields": list(consent.fields),
        "purpose": consent.purpose,
        "given_at": consent.given_at.isoformat(),
        "expires_at": consent.expires_at.isoformat(),
    }


def _check_fields(service: DataService, fields: Iterable[str]) -> tuple[list[str], bool]:
    """The fields asked for (in the resource's order) and whether any is a conditional share.

    Refuses an unknown field (400) and any field the provider does not share
    (403 ``field_not_shared``, naming the fields and the rule).
    """
    asked = list(dict.fromkeys(str(f) for f in fields))
    if not asked:
        raise ExchangeError("no_fields", _("请列出要获取的信息项"), field="fields")
    known = {f.key: f for f in resource_fields(service)}
    unknown = [f for f in asked if f not in known]
    if unknown:
        raise ExchangeError("unknown_field", _("该数据服务没有这些信息项：%s") % "、".join(unknown), field="fields")
    if service.resource.share_type == ShareType.NOT_SHARED:
        raise ExchangeError("not_shared", _("该信息资源不予共享"), rule="share_type:not_shared")
    refused = [f for f in asked if effective_share_type(service, known[f]) == ShareType.NOT_SHARED]
    if refused:
        raise ExchangeError(
            "field_not_shared",
            _("超出共享范围：信息项“%s”不予共享，只能申请共享目录允许的信息项")
            % "、".join(known[f].label for f in refused),
            rule="field_share_type:not_shared",
            fields=refused,
        )
    ordered = [f.key for f in known.values() if f.key in asked]
    conditional = any(effective_share_type(service, known[f]) == ShareType.CONDITIONAL for f in ordered)
    return ordered, conditional


# --- requests -------------------------------------------------------------------------------------------


@dataclass
class _Request:
    """One request as it is recorded. ``consumer`` is None when a department of another node asks
    (``remote_consumer`` names it, ``peer_node`` is its node)."""

    service: DataService
    consumer: Any
    actor: Any
    subject: Subject
    fields: list[str]
    purpose: str
    legal_basis: str
    case_reference: str
    exchange_id: str = field(default_factory=new_exchange_id)
    remote_consumer: str = ""
    peer_node: str = ""
    peer_exchange_id: str = ""
    consent_evidence: dict[str, Any] = field(default_factory=dict)
    transport: str = ""


def _user(actor: Any) -> Any:
    """The signed-in account behind a request, or None (the system, or a department system's token)."""
    return actor if getattr(actor, "is_authenticated", False) else None


def _requester_label(actor: Any) -> str:
    """Who asked, as the exchange records keep it: a department system by its name and client id."""
    if isinstance(actor, ServiceCaller):
        return f"{actor.name}（{actor.label}）"[:120]
    user = _user(actor)
    return str(getattr(user, "display_name", "") or user.get_username())[:120] if user is not None else ""


def _record(request: _Request, outcome: str, *, code: str = "", consent: Consent | None = None) -> ExchangeRecord:
    record = ExchangeRecord.objects.create(
        exchange_id=request.exchange_id,
        service=request.service,
        consumer=request.consumer,
        remote_consumer=request.remote_consumer,
        peer_node=request.peer_node,
        peer_exchange_id=request.peer_exchange_id,
        consent_evidence=request.consent_evidence,
        requested_by=_user(request.actor),
        requester_label=_requester_label(request.actor),
        subject_kind=request.subject.kind,
        subject_index=request.subject.key,
        subject_masked=request.subject.masked,
        subject_person_id=request.subject.person_id,
        fields=request.fields,
        purpose=request.purpose,
        legal_basis=request.legal_basis,
        case_reference=request.case_reference,
        consent=consent,
        transport=request.transport or request.service.transport,
        outcome=outcome,
        refusal_code=code,
    )
    record_event(
        EXCHANGE_EVENT,
        actor=_user(request.actor),
        actor_label=request.actor.label if isinstance(request.actor, ServiceCaller) else None,
        on_behalf_of_person_id=request.subject.person_id,
        target=f"exchange.ExchangeRecord:{record.exchange_id}",
        detail={
            "service": request.service.code,
            "consumer": request.consumer.code if request.consumer is not None else request.remote_consumer,
            "peer_node": request.peer_node,
            "fields": request.fields,
            "outcome": outcome,
            "code": code,
            "case": request.case_reference,
        },
    )
    return record


def _refuse(request: _Request, error: ExchangeError, outcome: str = Outcome.REFUSED) -> ExchangeError:
    """Record the refusal (committed) and hand back the error, with the exchange id, to raise."""
    with transaction.atomic():
        record = _record(request, outcome, code=error.code)
    error.extra["exchange_id"] = record.exchange_id
    return error


def _ask_provider(request: _Request, consent: Consent | None) -> dict[str, str] | None:
    """The provider's answer through the service's transport; a provider that is down or refuses under its own
    policy (on another node) is recorded and raised."""
    asked = transports.TransportRequest(
        request.exchange_id,
        request.consumer.code,
        request.consumer.name,
        request.purpose,
        request.legal_basis,
        request.case_reference,
        consent_evidence(consent) if consent is not None else None,
    )
    try:
        answer = transports.transport_for(request.service.transport)(
            request.service, request.subject, request.fields, asked
        )
    except transports.ProviderUnavailable:
        request.peer_node = asked.peer_node
        down = ExchangeError("provider_unavailable", _("提供部门的数据服务暂时不可用，请稍后再试或改为上传材料"))
        raise _refuse(request, down, Outcome.FAILED) from None
    except transports.ProviderRefused as refusal:
        request.peer_node = asked.peer_node
        refused = ExchangeError(refusal.code, refusal.detail)
        if refusal.code in REFUSAL_RULES:
            refused.extra["rule"] = REFUSAL_RULES[refusal.code]
        raise _refuse(request, refused) from None
    request.peer_node, request.peer_exchange_id = asked.peer_node, asked.peer_exchange_id
    return answer


def request_data(
    *,
    actor: Any,
    consumer_code: str,
    service_code: str,
    subject: Subject,
    fields: Iterable[str],
    purpose: str,
    legal_basis: str = "",
    case_reference: str = "",
    for_applicant: bool = False,
) -> ExchangeResult:
    """Ask a data service for a subject's fields on behalf of a consumer department; the provider's policy decides.

    ``actor`` must be staff of the consumer department (or a department
    system's :class:`ServiceCaller` whose department tree holds it), unless
    ``for_applicant`` (the application flow asks for the applicant's own
    materials on the handling department's behalf; the caller has checked who
    may act on the application). Refusals: ``not_found`` (unknown service),
    ``forbidden``, ``invalid_subject``, ``no_fields``, ``unknown_field``,
    ``purpose_required``, ``not_shared``, ``field_not_shared``,
    ``consent_required`` / ``consent_revoked`` / ``consent_expired``,
    ``no_record`` and ``provider_unavailable``; those after the policy was
    consulted are recorded with an exchange id. A service held by another
    node is refused there too under that node's own policy, with its code
    (``field_not_shared``, ``consent_required`` …), recorded here as refused.
    """
    service = active_service(service_code)
    consumer = directory_selectors.department_by_code(consumer_code)
    if consumer is None:
        raise ExchangeError("invalid_consumer", _("使用部门不存在"), field="consumer")
    if not for_applicant and not policy.may_request_for(actor, consumer.code):
        record_event("permission.denied", actor=actor, detail={"service": service.code, "consumer": consumer.code})
        raise ExchangeError("forbidden", _("您不能以该部门的名义申请共享数据"))
    from .sources import BACKEND_SUBJECTS

    if subject.kind not in BACKEND_SUBJECTS[service.backend] or subject.kind != service.resource.subject_kind:
        raise ExchangeError("invalid_subject", _("该数据服务不提供这类信息主体的数据"), field="subject")
    purpose = (purpose or "").strip()[:200]
    if not purpose:
        raise ExchangeError("purpose_required", _("请说明使用数据的用途"), field="purpose")
    request = _Request(
        service, consumer, actor, subject, [str(f) for f in fields], purpose, legal_basis.strip()[:300], case_reference
    )
    try:
        request.fields, conditional = _check_fields(service, fields)
    except ExchangeError as error:
        if error.code in ("not_shared", "field_not_shared"):
            raise _refuse(request, error) from None
        raise
    consent = None
    if conditional and subject.kind == SubjectKind.PERSON:
        try:
            consent = live_consent(service, subject.person_id, consumer.pk, request.fields)
        except ExchangeError as error:
            raise _refuse(request, error) from None
    answer = _ask_provider(request, consent)
    if answer is None:
        raise _refuse(request, ExchangeError("no_record", _("提供部门没有该信息主体的记录")), Outcome.NO_RECORD)
    labels = {f.key: f.label for f in resource_fields(service)}
    data = {key: str(answer.get(key, "")) for key in request.fields}  # the minimum: nothing beyond what was asked
    with transaction.atomic():
        record = _record(request, Outcome.ANSWERED, consent=consent)
        if subject.person_id is not None:
            accounts_services.record_data_exchange(
                person_id=subject.person_id,
                accessor=_user(request.actor),
                accessor_label=consumer.name,
                department_name=consumer.name,
                fields=[f"{service.resource.name}·{labels[k]}" for k in request.fields],
                purpose=purpose,
                case_reference=case_reference,
                exchange_id=record.exchange_id,
            )
    return ExchangeResult(record.exchange_id, service.code, data, {k: labels[k] for k in request.fields})


# --- consent --------------------------------------------------------------------------------------------


def give_consent(
    *,
    actor: Any,
    service_code: str,
    days: int,
    purpose: str,
    consumer_code: str | None = None,
    fields: Iterable[str] | None = None,
    application_id: int | None = None,
) -> Consent:
    """The signed-in person consents that a conditional data service shares their fields, for ``days`` days.

    ``consumer_code`` None means any department handling the person's own
    applications; ``fields`` None means every field the service shares.
    """
    person_id = getattr(actor, "person_id", None)
    if not getattr(actor, "is_authenticated", False) or person_id is None:
        raise ExchangeError("forbidden", _("只有信息主体本人可以授权"))
    service = active_service(service_code)
    if service.resource.subject_kind != SubjectKind.PERSON:
        raise ExchangeError("not_found", _("数据服务不存在"))
    if days not in CONSENT_DAYS_CHOICES:
        raise ExchangeError("invalid_days", _("请选择授权有效期"), field="days")
    purpose = (purpose or "").strip()[:200]
    if not purpose:
        raise ExchangeError("purpose_required", _("请说明授权用途"), field="purpose")
    shareable = [f.key for f in shareable_fields(service)]
    wanted = shareable if fields is None else [f for f in shareable if f in set(fields)]
    if not wanted:
        raise ExchangeError("no_fields", _("请选择同意提供的信息项"), field="fields")
    consumer = None
    if consumer_code:
        consumer = directory_selectors.department_by_code(consumer_code)
        if consumer is None:
            raise ExchangeError("invalid_consumer", _("使用部门不存在"), field="consumer")
    now = timezone.now()
    with transaction.atomic():
        consent = Consent.objects.create(
            person_id=person_id,
            service=service,
            consumer=consumer,
            fields=wanted,
            purpose=purpose,
            application_id=application_id,
            given_by=actor,
            given_at=now,
            expires_at=now + dt.timedelta(days=days),
        )
        record_event(
            CONSENT_GIVEN_EVENT,
            actor=actor,
            on_behalf_of_person_id=person_id,
            target=f"exchange.Consent:{consent.pk}",
            detail={"service": service.code, "consumer": consumer.code if consumer else "", "days": days},
        )
    return consent


def revoke_consent(*, actor: Any, consent_id: int) -> Consent:
    """The person withdraws a consent: no exchange relies on it from now on (what was fetched stays recorded)."""
    consent = Consent.objects.filter(pk=consent_id).first()
    if consent is None or not policy.is_subject(actor, consent.person_id):
        raise ExchangeError("not_found", _("授权不存在"))
    with transaction.atomic():
        consent = Consent.objects.select_for_update().get(pk=consent.pk)
        if consent.revoked_at is None:
            consent.revoked_at = timezone.now()
            consent.save(update_fields=["revoked_at"])
            record_event(
                CONSENT_REVOKED_EVENT,
                actor=actor,
                on_behalf_of_person_id=consent.person_id,
                target=f"exchange.Consent:{consent.pk}",
            )
    return consent


# --- real-name level 3: matching a person against household registration -----------------------------------


def _same_name(a: str, b: str) -> bool:
    return "".join((a or "").split()) == "".join((b or "").split())


def match_household_register(actor: Any, person: Any) -> RegisterMatch:
    """Match the signed-in person's name and resident ID against household registration (ADR 0030).

    The provider of ``core.assurance_sources`` that ``accounts`` asks when a
    person raises their real-name level online. The person consents to this
    one request (for the public security bureau, the name and masked ID
    only); the consent is withdrawn as soon as the answer is in. The request
    goes through :func:`request_data`, so it is recorded with an exchange id
    and, when answered, put in the person's 谁用了我的数据. The record is
    found by the resident ID's blind index; the name must then be the same,
    and the masked number too.
    """
    purpose = _("实名认证：核对本人姓名和公民身份号码")
    try:
        consent = give_consent(
            actor=actor,
            service_code=REAL_NAME_SERVICE,
            days=min(CONSENT_DAYS_CHOICES),
            purpose=purpose,
            consumer_code=REAL_NAME_CONSUMER,
            fields=REAL_NAME_FIELDS,
        )
    except ExchangeError as error:
        return RegisterMatch(False, "", error.code, error.message)
    try:
        result = request_data(
            actor=actor,
            consumer_code=REAL_NAME_CONSUMER,
            service_code=REAL_NAME_SERVICE,
            subject=subject_for_person(person),
            fields=REAL_NAME_FIELDS,
            purpose=purpose,
            legal_basis=_("《中华人民共和国网络安全法》第二十四条（网络实名）"),
            for_applicant=True,
        )
    except ExchangeError as error:
        return RegisterMatch(False, str(error.extra.get("exchange_id", "")), error.code, error.message)
    finally:
        revoke_consent(actor=actor, consent_id=consent.pk)
    if not _same_name(result.data.get("name", ""), person.name):
        return RegisterMatch(
            False,
            result.exchange_id,
            "name_mismatch",
            _("户籍登记的姓名与您账户中的姓名不一致，请到窗口核验证件"),
        )
    if result.data.get("id_number", "") != person.document_number_masked:
        return RegisterMatch(False, result.exchange_id, "id_mismatch", _("户籍登记的公民身份号码与您的不一致"))
    return RegisterMatch(True, result.exchange_id)


# --- 免提交: materials fetched into applications ---------------------------------------------------------


def services_for_source(source_name: str) -> list[DataService]:
    """The active data services that supply a catalogue material's ``source_name`` (部门共享获取), this node's
    own first (no message to another node when the data is here)."""
    wanted = source_name.strip()
    if not wanted:
        return []
    found = [
        s
        for s in DataService.objects.select_related("resource__department").filter(active=True, resource__active=True)
        if wanted in s.material_sources
    ]
    return sorted(found, key=lambda s: s.transport != LOCAL_TRANSPORT)


@dataclass(frozen=True)
class MaterialContext:
    """One 免提交 material of a draft application and the service that can supply it."""

    application: Any
    spec: Any
    service: DataService
    consumer: Any
    subject: Subject | None
    item_name: str

    @property
    def fields(self) -> list[str]:
        shareable = [f.key for f in shareable_fields(self.service)]
        wanted = self.service.material_fields or shareable
        return [f for f in shareable if f in wanted]

    @property
    def purpose(self) -> str:
        return _("办理“%(item)s”：%(material)s（免提交）") % {"item": self.item_name, "material": self.spec.name}

    @property
    def needs_consent(self) -> bool:
        types = {f.key: effective_share_type(self.service, f) for f in resource_fields(self.service)}
        return (
            self.subject is not None
            and self.subject.kind == SubjectKind.PERSON
            and any(types.get(f) == ShareType.CONDITIONAL for f in self.fields)
        )


def material_context(actor: Any, application_id: int, material_key: str, *, draft: bool = True) -> MaterialContext:
    """The material of an application ``actor`` may act on, the service that supplies it, consumer and subject."""
    try:
        application = cases_selectors.get_application(actor, application_id)
    except Http404:
        raise ExchangeError("not_found", _("申请不存在")) from None
    if draft and application.state != "draft":
        raise ExchangeError("not_a_draft", _("申请已提交，不能再更改材料"))
    definition = cases_services.application_definition(application)
    spec = next((m for m in definition.materials if m.key == material_key), None)
    found = services_for_source(spec.from_source) if spec is not None and spec.from_source else []
    if spec is None or not found:
        raise ExchangeError("unknown_material", _("该事项没有可由部门共享获取的这项材料"))
    service = found[0]
    item = catalog_selectors.published_item((spec.item_codes or (application.item_code,))[0])
    subject: Subject | None = None
    if service.resource.subject_kind == SubjectKind.PERSON:
        subject = subject_for_person(application.applicant_person)
    elif application.applicant_organisation is not None:
        subject = subject_for_credit_code(application.applicant_organisation.credit_code)
    return MaterialContext(application, spec, service, item.department, subject, item.name)


def has_live_consent(context: MaterialContext) -> bool:
    """Whether the applicant's consent covers the material's fields for its handling department now."""
    if context.subject is None:
        return False
    try:
        live_consent(context.service, context.subject.person_id, context.consumer.pk, context.fields)
    except ExchangeError:
        return False
    return True


def shared_material(application_id: int, material_key: str) -> SharedMaterial | None:
    return (
        SharedMaterial.objects.select_related("service__resource", "exchange")
        .filter(application_id=application_id, material_key=material_key)
        .first()
    )


def material_data(row: SharedMaterial) -> dict[str, str]:
    """The values fetched for a material (decrypted for the applicant's confirmation page)."""
    data = json.loads(crypto.decrypt(row.data_encrypted))
    return {str(k): str(v) for k, v in data.items()}


def is_stale(row: SharedMaterial, now: dt.datetime | None = None) -> bool:
    """Older than the service's data lifetime: fetched again before the application may rely on it."""
    return (now or timezone.now()) - row.fetched_at > dt.timedelta(hours=row.service.max_age_hours)


def fetch_material(*, actor: Any, application_id: int, material_key: str) -> SharedMaterial:
    """Fetch (or fetch again) a 免提交 material of a draft application from its data service.

    The handling department is the consumer, the applicant the subject; the
    result waits for the applicant's confirmation (:func:`confirm_material`).
    Raises like :func:`request_data` (``consent_required`` for a conditional
    share without the applicant's consent, ``provider_unavailable`` when the
    provider is down: the material is then uploaded instead).
    """
    context = material_context(actor, application_id, material_key)
    if context.subject is None:
        raise ExchangeError("invalid_subject", _("该材料需以单位名义申请时才能共享获取"))
    result = request_data(
        actor=actor,
        consumer_code=context.consumer.code,
        service_code=context.service.code,
        subject=context.subject,
        fields=context.fields,
        purpose=context.purpose,
        legal_basis=context.service.resource.legal_basis,
        case_reference=_("申请%(id)s") % {"id": application_id},
        for_applicant=True,
    )
    record = ExchangeRecord.objects.get(exchange_id=result.exchange_id)
    with transaction.atomic():
        row, _created = SharedMaterial.objects.update_or_create(
            application_id=application_id,
            material_key=material_key,
            defaults={
                "material_name": context.spec.name[:200],
                "item_codes": list(context.spec.item_codes),
                "service": context.service,
                "exchange": record,
                "data_encrypted": crypto.encrypt(json.dumps(result.data, ensure_ascii=False)),
                "fetched_at": result.fetched_at,
                "confirmed_at": None,
                "confirmed_by": None,
            },
        )
    return row


def confirm_material(*, actor: Any, application_id: int, material_key: str) -> SharedMaterial:
    """The applicant confirms the fetched data as the material; stale data must be fetched again first."""
    material_context(actor, application_id, material_key)
    row = shared_material(application_id, material_key)
    if row is None:
        raise ExchangeError("not_fetched", _("请先获取该材料"))
    if is_stale(row):
        raise ExchangeError("stale", _("获取的数据已过期，请重新获取后再确认"))
    with transaction.atomic():
        row.confirmed_at = timezone.now()
        row.confirmed_by = actor
        row.save(update_fields=["confirmed_at", "confirmed_by"])
        record_event(
            SHARED_MATERIAL_EVENT,
            actor=actor,
            target=f"exchange.ExchangeRecord:{row.exchange.exchange_id}",
            detail={"application": application_id, "material": material_key},
        )
    return row


def release_material(*, actor: Any, application_id: int, material_key: str) -> None:
    """Give a fetched material back while the application is a draft (it is then uploaded instead)."""
    material_context(actor, application_id, material_key)
    SharedMaterial.objects.filter(application_id=application_id, material_key=material_key).delete()


def material_offers(user: Any, application_id: int, needs: Sequence[MaterialNeed]) -> dict[str, MaterialOffer]:
    """The material-source provider: for each 免提交 material a data service supplies, where to fetch it."""
    result: dict[str, MaterialOffer] = {}
    try:
        application = cases_selectors.get_application(user, application_id)
    except Http404:
        return result
    taken = {
        row.material_key: row
        for row in SharedMaterial.objects.select_related("service", "exchange").filter(application_id=application_id)
    }
    for need in needs:
        found = services_for_source(need.source_name)
        if not found:
            continue
        if found[0].resource.subject_kind == SubjectKind.ORGANISATION and application.applicant_organisation_id is None:
            continue  # an organisation's register says nothing about a person applying alone
        url = reverse("exchange:material", args=[application_id, need.key])
        row = taken.get(need.key)
        if row is not None and row.confirmed_at is not None:
            label = _("%(service)s，交换编号 %(id)s") % {"service": row.service.name, "id": row.exchange.exchange_id}
            if is_stale(row):
                label = _("%(label)s（已过期，需重新获取）") % {"label": label}
            result[need.key] = MaterialOffer(need.key, need.source_name, label, (), url, review_url=url)
        else:
            result[need.key] = MaterialOffer(
                need.key, need.source_name, "", (("fetch", found[0].name),), url, review_url=url
            )
    return result


def record_savings(case_id: int) -> int:
    """六减: record, once per case and material, each confirmed material the submitted case got by sharing."""
    case = cases_selectors.case_by_id(case_id)
    if case is None:
        return 0
    created = 0
    rows = SharedMaterial.objects.select_related("exchange").filter(
        application_id=case.application_id, confirmed_at__isnull=False
    )
    for row in rows:
        if row.item_codes and case.item_code not in row.item_codes:
            continue
        _saving, made = SharedMaterialSaving.objects.get_or_create(
            case_id=case.pk,
            material_key=row.material_key,
            defaults={
                "case_number": case.number,
                "item_code": case.item_code,
                "material_name": row.material_name,
                "exchange_id": row.exchange.exchange_id,
            },
        )
        created += made
    return created
