"""Data services held by another platform node: the consumer's ``node:`` transport and the provider's handlers.

A data service whose ``transport`` is ``node:<peer code>`` is answered by
that peer. The consumer node applies its own copy of the provider's terms
and the person's consent first (:func:`yiwang.exchange.services.request_data`),
then sends a signed ``data_request`` message (:mod:`yiwang.exchange.nodes`);
the provider node applies **its own** policy again — its catalogue entry,
its fields' share types, the consent the consumer node asserts — records the
exchange on its side with the consumer node and department, and answers only
the asked fields. A provider that cannot be reached, times out, fails or
cannot be trusted is :class:`~yiwang.exchange.transports.ProviderUnavailable`
(the material is uploaded instead); a refusal under its policy comes back as
:class:`~yiwang.exchange.transports.ProviderRefused` with the provider's code.

``data_service`` messages describe a provider's service so that a consumer
node can register it (:func:`register_remote_service`, ``yiwang exchange
add-remote-service``). The message bodies are in docs/exchange-nodes.md, the
decisions in ADR 0028.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts import services as accounts_services
from yiwang.core import crypto
from yiwang.directory import selectors as directory_selectors

from . import services, transports
from .constants import (
    LOCAL_TRANSPORT,
    NODE_TRANSPORT_PREFIX,
    Backend,
    OpenType,
    Outcome,
    ShareType,
    SubjectKind,
    UpdateCycle,
)
from .errors import ExchangeError
from .models import DataService, Resource, ResourceField
from .nodes import services as node_services
from .sources import BACKEND_SUBJECTS, Subject

DATA_REQUEST = "data_request"
DATA_SERVICE = "data_service"

# A provider's refusals under its policy: the consumer records them as refused, with the provider's code.
# Any other refusal (protocol, unknown service, a failing handler) means the provider cannot answer now.
POLICY_REFUSALS = frozenset(
    {
        "invalid_subject",
        "invalid_consumer",
        "purpose_required",
        "no_fields",
        "unknown_field",
        "not_shared",
        "field_not_shared",
        "consent_required",
        "consent_expired",
    }
)


def register() -> None:
    """Make the ``node:`` transport and the provider's message handlers known (``ExchangeConfig.ready``)."""
    transports.register_transport(NODE_TRANSPORT_PREFIX, node_transport)
    node_services.register_handler(DATA_REQUEST, answer_data_request)
    node_services.register_handler(DATA_SERVICE, describe_service)


def peer_of(service: DataService) -> str:
    return service.transport.removeprefix(NODE_TRANSPORT_PREFIX)


# --- the consumer's side -----------------------------------------------------------------------------------


def _subject_body(subject: Subject) -> dict[str, str]:
    """The subject as the provider can find it: a blind index means nothing on another node, so the number."""
    if subject.kind == SubjectKind.ORGANISATION:
        return {"kind": SubjectKind.ORGANISATION, "credit_code": subject.key}
    number = subject.number
    if not number and subject.person_id is not None:
        number = crypto.decrypt(accounts_selectors.get_person(subject.person_id).document_number_encrypted)
    if not number:
        raise transports.ProviderRefused("invalid_subject", _("无法向其他节点说明该信息主体的身份"))
    return {"kind": SubjectKind.PERSON, "id_number": number}


def node_transport(
    service: DataService, subject: Subject, fields: Sequence[str], request: transports.TransportRequest
) -> dict[str, str] | None:
    """Ask the peer that holds ``service`` for the subject's fields, in a signed ``data_request`` message."""
    peer = peer_of(service)
    request.peer_node = peer
    body = {
        "service": service.remote_code or service.code,
        "subject": _subject_body(subject),
        "fields": list(fields),
        "purpose": request.purpose,
        "legal_basis": request.legal_basis,
        "case_reference": request.case_reference,
        "consumer": {"code": request.consumer_code, "name": request.consumer_name},
        "exchange_id": request.exchange_id,
        "consent": request.consent,
    }
    try:
        result = node_services.send(peer, DATA_REQUEST, body)
    except node_services.ExchangeError as exc:
        reason = str(exc.extra.get("reason") or "")
        if exc.code == "peer_refused" and reason in POLICY_REFUSALS:
            raise transports.ProviderRefused(reason, exc.message) from exc
        raise transports.ProviderUnavailable(f"{peer}: {exc.code} {reason}".strip()) from exc
    request.peer_exchange_id = str(result.get("exchange_id") or "")[:64]
    if result.get("found") is not True:
        return None
    data = result.get("data")
    if not isinstance(data, dict):
        raise transports.ProviderUnavailable(f"{peer}: an answer without data")
    return {key: str(data.get(key, "")) for key in fields}  # only the asked fields, whatever came back


# --- the provider's side -----------------------------------------------------------------------------------


def _text(value: Any, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _held_service(body: dict[str, Any]) -> DataService:
    """The service asked for, if this node holds it itself (a node does not pass requests on to a third)."""
    service = services.active_service(_text(body.get("service"), 40))
    if service.transport != LOCAL_TRANSPORT:
        raise ExchangeError("not_found", _("数据服务不存在"))
    return service


def _subject(value: Any, service: DataService) -> Subject:
    if not isinstance(value, dict):
        raise ExchangeError("invalid_subject", _("请说明信息主体"), field="subject")
    kind = value.get("kind")
    if kind == SubjectKind.PERSON:
        subject = services.subject_for_id_number(_text(value.get("id_number"), 18))
    elif kind == SubjectKind.ORGANISATION:
        subject = services.subject_for_credit_code(_text(value.get("credit_code"), 18))
    else:
        raise ExchangeError("invalid_subject", _("请说明信息主体"), field="subject")
    if subject.kind not in BACKEND_SUBJECTS[service.backend] or subject.kind != service.resource.subject_kind:
        raise ExchangeError("invalid_subject", _("该数据服务不提供这类信息主体的数据"), field="subject")
    return subject


def _consent(evidence: Any, consumer_code: str, fields: Sequence[str]) -> dict[str, Any]:
    """The consent the consumer node asserts, checked as far as the provider can: it covers the consumer
    department and every asked field, and has not run out. Returns what is kept in the record."""
    missing = ExchangeError(
        "consent_required", _("有条件共享的数据需要信息主体本人授权，请求未附有效的授权"), rule="consent:required"
    )
    if not isinstance(evidence, dict) or not evidence.get("id"):
        raise missing
    covered = evidence.get("fields")
    if not isinstance(covered, list) or not set(fields) <= {str(f) for f in covered}:
        raise missing
    if evidence.get("consumer") not in ("", consumer_code):
        raise missing
    expires = parse_datetime(str(evidence.get("expires_at") or ""))
    given = parse_datetime(str(evidence.get("given_at") or ""))
    if expires is None or given is None or timezone.is_naive(expires) or timezone.is_naive(given):
        raise missing
    if expires <= timezone.now():
        raise ExchangeError("consent_expired", _("信息主体对该数据的授权已过期"), rule="consent:expired")
    return {
        "id": str(evidence["id"])[:40],
        "consumer": str(evidence.get("consumer") or ""),
        "fields": [str(f) for f in covered],
        "purpose": _text(evidence.get("purpose"), 200),
        "given_at": given.astimezone(dt.UTC).isoformat(),
        "expires_at": expires.astimezone(dt.UTC).isoformat(),
    }


def answer_data_request(peer: node_services.PeerInfo, body: dict[str, Any]) -> dict[str, Any]:
    """The provider answers a peer's ``data_request`` under its own policy, and records the exchange.

    Refuses (a signed refusal with the code) ``not_found``, ``invalid_consumer``, ``invalid_subject``,
    ``purpose_required``, ``no_fields``, ``unknown_field``, ``not_shared``, ``field_not_shared`` (naming the
    fields), ``consent_required``, ``consent_expired``; those from ``not_shared`` on are recorded with an
    exchange id. Answers ``{"exchange_id", "found": false}`` when it holds nothing on the subject, else
    ``{"exchange_id", "found": true, "data": {…only the asked fields…}}``.
    """
    service = _held_service(body)
    given = body.get("consumer")
    consumer: dict[str, Any] = given if isinstance(given, dict) else {}
    consumer_code = _text(consumer.get("code"), 40)
    consumer_name = _text(consumer.get("name"), 100) or consumer_code
    if not consumer_code:
        raise ExchangeError("invalid_consumer", _("请说明使用部门"), field="consumer")
    subject = _subject(body.get("subject"), service)
    purpose = _text(body.get("purpose"), 200)
    if not purpose:
        raise ExchangeError("purpose_required", _("请说明使用数据的用途"), field="purpose")
    asked = body.get("fields")
    fields = [str(f) for f in asked] if isinstance(asked, list) else []
    request = services._Request(
        service,
        None,
        None,
        subject,
        fields[:100],
        purpose,
        _text(body.get("legal_basis"), 300),
        _text(body.get("case_reference"), 80),
        remote_consumer=consumer_name,
        peer_node=peer.code,
        peer_exchange_id=_text(body.get("exchange_id"), 64),
        transport=LOCAL_TRANSPORT,
    )
    try:
        request.fields, conditional = services._check_fields(service, fields)
    except ExchangeError as error:
        if error.code in ("not_shared", "field_not_shared"):
            raise services._refuse(request, error) from None
        raise
    if conditional and subject.kind == SubjectKind.PERSON:
        try:
            request.consent_evidence = _consent(body.get("consent"), consumer_code, request.fields)
        except ExchangeError as error:
            raise services._refuse(request, error) from None
    answer = transports.local_transport(service, subject, request.fields)
    if answer is None:
        with transaction.atomic():
            record = services._record(request, Outcome.NO_RECORD, code="no_record")
        return {"exchange_id": record.exchange_id, "found": False}
    labels = {f.key: f.label for f in services.resource_fields(service)}
    with transaction.atomic():
        record = services._record(request, Outcome.ANSWERED)
        if subject.person_id is not None:
            accounts_services.record_data_exchange(
                person_id=subject.person_id,
                accessor=None,
                accessor_label=f"{consumer_name}（{peer.name or peer.code}）",
                department_name=consumer_name,
                fields=[f"{service.resource.name}·{labels[k]}" for k in request.fields],
                purpose=purpose,
                case_reference=request.case_reference,
                exchange_id=record.exchange_id,
            )
    return {"exchange_id": record.exchange_id, "found": True, "data": {k: answer[k] for k in request.fields}}


def describe_service(peer: node_services.PeerInfo, body: dict[str, Any]) -> dict[str, Any]:
    """A service this node holds, as a consumer node registers it: its resource, fields and share terms."""
    service = _held_service(body)
    resource = service.resource
    return {
        "code": service.code,
        "name": service.name,
        "backend": service.backend,
        "material_sources": list(service.material_sources),
        "material_fields": list(service.material_fields),
        "max_age_hours": service.max_age_hours,
        "resource": {
            "code": resource.code,
            "name": resource.name,
            "department": {"code": resource.department.code, "name": resource.department.name},
            "description": resource.description,
            "subject_kind": resource.subject_kind,
            "share_type": resource.share_type,
            "share_conditions": resource.share_conditions,
            "open_type": resource.open_type,
            "legal_basis": resource.legal_basis,
            "update_cycle": resource.update_cycle,
            "owner": resource.owner,
        },
        "fields": [
            {"key": f.key, "label": f.label, "share_type": f.share_type} for f in services.resource_fields(service)
        ],
    }


# --- registering a peer's service on the consumer's node ---------------------------------------------------


def _choice(value: Any, choices: Any, what: str) -> str:
    if value not in choices.values:
        raise ExchangeError("bad_description", _("对方节点的服务说明不正确：%(what)s") % {"what": what})
    return str(value)


def register_remote_service(
    peer_code: str, remote_code: str, *, code: str = "", department_code: str = ""
) -> DataService:
    """Register (or refresh) here a data service that ``peer_code`` holds, from its own description.

    The service is stored as ``code`` (default: its code on the peer) with
    transport ``node:<peer>``, over a copy of the peer's catalogue entry,
    fields and share terms, under the local department ``department_code``
    (default: the department with the provider's code). Running it again
    takes up the provider's current terms. Refuses a code held by a local
    service, and an unknown department.
    """
    described = node_services.send(peer_code, DATA_SERVICE, {"service": remote_code})
    entry = described.get("resource")
    fields = described.get("fields")
    if not isinstance(entry, dict) or not isinstance(fields, list) or not fields:
        raise ExchangeError("bad_description", _("对方节点的服务说明不正确：%(what)s") % {"what": "resource"})
    named = entry.get("department")
    provider: dict[str, Any] = named if isinstance(named, dict) else {}
    department = directory_selectors.department_by_code(department_code or _text(provider.get("code"), 40))
    if department is None:
        raise ExchangeError("invalid_department", _("本节点没有对应的提供部门，请用 --department 指定"))
    local_code = (code or remote_code).strip()[:40]
    transport = f"{NODE_TRANSPORT_PREFIX}{peer_code}"
    existing = DataService.objects.filter(code=local_code).first()
    if existing is not None and existing.transport != transport:
        raise ExchangeError("service_exists", _("本节点已有代码为 %(code)s 的数据服务") % {"code": local_code})
    field_rows = []
    for position, row in enumerate(fields):
        if not isinstance(row, dict) or not _text(row.get("key"), 40):
            raise ExchangeError("bad_description", _("对方节点的服务说明不正确：%(what)s") % {"what": "fields"})
        share = _choice(row.get("share_type"), ShareType, "share_type")
        field_rows.append((_text(row.get("key"), 40), _text(row.get("label"), 60), share, position))
    with transaction.atomic():
        resource, _created = Resource.objects.update_or_create(
            code=f"{peer_code}:{_text(entry.get('code'), 40)}"[:40],
            defaults={
                "name": _text(entry.get("name"), 100),
                "department": department,
                "description": _text(entry.get("description"), 2000),
                "subject_kind": _choice(entry.get("subject_kind"), SubjectKind, "subject_kind"),
                "share_type": _choice(entry.get("share_type"), ShareType, "share_type"),
                "share_conditions": _text(entry.get("share_conditions"), 300),
                "open_type": _choice(entry.get("open_type"), OpenType, "open_type"),
                "legal_basis": _text(entry.get("legal_basis"), 300),
                "update_cycle": _choice(entry.get("update_cycle"), UpdateCycle, "update_cycle"),
                "owner": _text(entry.get("owner"), 100),
            },
        )
        for key, label, share, position in field_rows:
            ResourceField.objects.update_or_create(
                resource=resource, key=key, defaults={"label": label, "share_type": share, "position": position}
            )
        resource.fields.exclude(key__in=[key for key, *_rest in field_rows]).delete()
        hours = described.get("max_age_hours")
        service, _created = DataService.objects.update_or_create(
            code=local_code,
            defaults={
                "name": _text(described.get("name"), 100),
                "resource": resource,
                "backend": _choice(described.get("backend"), Backend, "backend"),
                "transport": transport,
                "remote_code": remote_code[:40],
                "material_sources": [str(s) for s in described.get("material_sources") or []],
                "material_fields": [str(f) for f in described.get("material_fields") or []],
                "max_age_hours": hours if isinstance(hours, int) and 0 < hours <= 24 * 365 else 24,
                "active": True,
            },
        )
    return service
