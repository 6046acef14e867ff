"""Data-sharing API under /api/v1/exchange/: the catalogue, requests, one's exchanges and consents.

The same rules as the pages: the open catalogue needs no login; requests are
made by staff for their department (session authentication, CSRF on
writes) or by a department system with a token holding ``exchange:request``
for its own department tree (``exchange:read`` reads that tree's exchanges);
a person sees their own exchanges and gives or revokes their own
consents. Refusals are problem documents with the services' stable codes and,
for the provider's policy, the ``rule`` that refused and the ``exchange_id``
under which the refusal was recorded: ``field_not_shared`` and ``not_shared``
(403), ``consent_required`` / ``consent_revoked`` / ``consent_expired``
(403), ``unknown_field`` (400), ``no_record`` (404), ``provider_unavailable``
(503).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from yiwang.core.api_access import SESSION, Access, ServiceCaller
from yiwang.core.problems import problems

from . import selectors, services
from .constants import CONSENT_DAYS_DEFAULT, SubjectKind
from .models import Consent, ExchangeRecord, Resource

router = Router(tags=["数据共享交换 exchange"], auth=SESSION)


class PageParams(Schema):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class FieldOut(Schema):
    key: str
    label: str
    share_type: str


class ResourceOut(Schema):
    code: str
    name: str
    department: str
    subject_kind: str
    share_type: str
    share_conditions: str
    open_type: str
    legal_basis: str
    update_cycle: str
    owner: str
    fields: list[FieldOut]
    services: list[str]


class ResourcePage(Schema):
    items: list[ResourceOut]
    count: int


def _resource_out(resource: Resource) -> ResourceOut:
    return ResourceOut(
        code=resource.code,
        name=resource.name,
        department=resource.department.code,
        subject_kind=resource.subject_kind,
        share_type=resource.share_type,
        share_conditions=resource.share_conditions,
        open_type=resource.open_type,
        legal_basis=resource.legal_basis,
        update_cycle=resource.update_cycle,
        owner=resource.owner,
        fields=[FieldOut(key=f.key, label=f.label, share_type=f.share_type) for f in resource.fields.all()],
        services=[s.code for s in resource.services.all() if s.active],
    )


@router.get(
    "/resources", auth=None, response={200: ResourcePage, **problems(422)}, summary="政务信息资源目录（开放部分）"
)
def exchange_resources(request: HttpRequest, page: Query[PageParams]) -> ResourcePage:
    resources = selectors.public_resources()
    rows = resources[page.offset : page.offset + page.limit]
    return ResourcePage(items=[_resource_out(r) for r in rows], count=resources.count())


class RequestIn(Schema):
    service: Annotated[str, Field(max_length=40)]
    consumer: Annotated[str, Field(max_length=40)]
    subject_kind: Literal["person", "organisation"]
    subject: Annotated[str, Field(max_length=30)]
    fields: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=50)]
    purpose: Annotated[str, Field(max_length=200)]
    legal_basis: Annotated[str, Field(max_length=300)] = ""
    case_reference: Annotated[str, Field(max_length=80)] = ""


class ExchangeAnswerOut(Schema):
    exchange_id: str
    service: str
    data: dict[str, str]
    labels: dict[str, str]


def _caller(request: HttpRequest) -> Any:
    """Who calls: a department system's :class:`ServiceCaller` (a bearer token), else the signed-in user."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ServiceCaller) else request.user


@router.post(
    "/requests",
    auth=Access("exchange:request"),
    response={200: ExchangeAnswerOut, **problems(400, 401, 403, 404, 422, 503)},
    summary="申请共享数据（按共享目录与授权判定，只返回所申请的信息项）",
)
def exchange_request(request: HttpRequest, body: RequestIn) -> ExchangeAnswerOut:
    if body.subject_kind == SubjectKind.PERSON:
        subject = services.subject_for_id_number(body.subject)
    else:
        subject = services.subject_for_credit_code(body.subject)
    result = services.request_data(
        actor=_caller(request),
        consumer_code=body.consumer,
        service_code=body.service,
        subject=subject,
        fields=body.fields,
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        case_reference=body.case_reference,
    )
    return ExchangeAnswerOut(
        exchange_id=result.exchange_id, service=result.service_code, data=result.data, labels=result.labels
    )


class ExchangeOut(Schema):
    exchange_id: str
    created_at: dt.datetime
    service: str
    service_name: str
    provider: str
    consumer: str
    subject: str
    fields: list[str]
    purpose: str
    legal_basis: str
    case_reference: str
    requester: str = Field(description="请求方（经办人或接入系统）；本人查看时为空")
    outcome: str
    refusal_code: str


class ExchangePage(Schema):
    items: list[ExchangeOut]
    count: int


def _exchange_out(record: ExchangeRecord, *, for_staff: bool) -> ExchangeOut:
    return ExchangeOut(
        exchange_id=record.exchange_id,
        created_at=record.created_at,
        service=record.service.code,
        service_name=record.service.name,
        provider=record.service.resource.department.name,
        consumer=record.consumer_label,
        subject=record.subject_masked,
        fields=list(record.fields),
        purpose=record.purpose,
        legal_basis=record.legal_basis,
        case_reference=record.case_reference,
        # A person sees which department used their data, not which clerk: staff names stay inside.
        requester=record.requester_label if for_staff else "",
        outcome=record.outcome,
        refusal_code=record.refusal_code,
    )


def _page(records: Any, page: PageParams, *, for_staff: bool) -> ExchangePage:
    rows = records[page.offset : page.offset + page.limit]
    return ExchangePage(items=[_exchange_out(r, for_staff=for_staff) for r in rows], count=records.count())


@router.get(
    "/exchanges",
    auth=Access("exchange:read"),
    response={200: ExchangePage, **problems(401, 403, 422)},
    summary="本部门申请或提供的数据交换",
)
def exchange_records(request: HttpRequest, page: Query[PageParams]) -> ExchangePage:
    return _page(selectors.exchanges_seen_by(_caller(request)), page, for_staff=True)


@router.get("/me/exchanges", response={200: ExchangePage, **problems(401, 422)}, summary="谁用了我的数据（数据交换）")
def exchange_my_exchanges(request: HttpRequest, page: Query[PageParams]) -> ExchangePage:
    return _page(selectors.my_exchanges(request.user), page, for_staff=False)


class ConsentOut(Schema):
    id: int
    service: str
    service_name: str
    consumer: str
    fields: list[str]
    purpose: str
    given_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    active: bool


class ConsentPage(Schema):
    items: list[ConsentOut]
    count: int


def _consent_out(consent: Consent) -> ConsentOut:
    return ConsentOut(
        id=consent.pk,
        service=consent.service.code,
        service_name=consent.service.name,
        consumer=consent.consumer.code if consent.consumer else "",
        fields=list(consent.fields),
        purpose=consent.purpose,
        given_at=consent.given_at,
        expires_at=consent.expires_at,
        revoked_at=consent.revoked_at,
        active=consent.is_active(),
    )


@router.get("/me/consents", response={200: ConsentPage, **problems(401, 422)}, summary="我的数据授权")
def exchange_my_consents(request: HttpRequest, page: Query[PageParams]) -> ConsentPage:
    consents = selectors.my_consents(request.user)
    rows = consents[page.offset : page.offset + page.limit]
    return ConsentPage(items=[_consent_out(c) for c in rows], count=consents.count())


class ConsentIn(Schema):
    service: Annotated[str, Field(max_length=40)]
    days: int = CONSENT_DAYS_DEFAULT
    purpose: Annotated[str, Field(max_length=200)]
    consumer: Annotated[str, Field(max_length=40)] = ""
    fields: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=50)] | None = None


@router.post(
    "/me/consents", response={201: ConsentOut, **problems(400, 401, 403, 404, 422)}, summary="授权有条件共享的数据"
)
def exchange_give_consent(request: HttpRequest, body: ConsentIn) -> Status[ConsentOut]:
    consent = services.give_consent(
        actor=request.user,
        service_code=body.service,
        days=body.days,
        purpose=body.purpose,
        consumer_code=body.consumer or None,
        fields=body.fields,
    )
    return Status(201, _consent_out(consent))


@router.post(
    "/me/consents/{consent_id}/revoke",
    response={200: ConsentOut, **problems(401, 404, 422)},
    summary="撤回授权",
)
def exchange_revoke_consent(request: HttpRequest, consent_id: int) -> ConsentOut:
    return _consent_out(services.revoke_consent(actor=request.user, consent_id=consent_id))
