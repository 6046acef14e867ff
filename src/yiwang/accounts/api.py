"""Identity API: my account, my data tracker, delegations, person records for case staff, staff roles.

Session authentication (with CSRF on writes); every object is fetched through
a selector that returns the same 404 for a missing and a forbidden object.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from yiwang.core.api_access import SESSION
from yiwang.core.http import client_address
from yiwang.core.problems import ServiceError, problems
from yiwang.directory import selectors as directory_selectors

from . import policy, selectors, services
from .models import Delegation, Person, User

router = Router(tags=["统一身份 accounts"], auth=SESSION)


class PersonOut(Schema):
    id: int
    name: str
    document_type: str
    document_number: str
    mobile: str
    assurance_level: int
    assurance_method: str


class RoleOut(Schema):
    id: int
    role: str
    department: str | None


class MeOut(Schema):
    username: str
    display_name: str
    person: PersonOut | None
    roles: list[RoleOut]


class AccessOut(Schema):
    occurred_at: dt.datetime
    accessor: str
    department: str
    fields: list[str]
    purpose: str
    case_reference: str
    exchange_id: str = ""


class AccessPage(Schema):
    items: list[AccessOut]
    count: int


class DelegationOut(Schema):
    id: int
    principal: str
    agent: str
    relationship: str
    scope: list[str]
    valid_until: dt.datetime
    active: bool


class DelegationIn(Schema):
    agent_document_type: Annotated[str, Field(max_length=32)]
    agent_document_number: Annotated[str, Field(max_length=40)]
    relationship: Annotated[str, Field(max_length=24)]
    valid_until: dt.date
    scope: Annotated[list[Annotated[str, Field(max_length=80)]], Field(max_length=100)] = []


class RevealIn(Schema):
    fields: Annotated[list[Annotated[str, Field(max_length=32)]], Field(min_length=1, max_length=3)]


class StaffOut(Schema):
    id: int
    username: str
    display_name: str
    roles: list[RoleOut]


class GrantIn(Schema):
    role: Annotated[str, Field(max_length=24)]
    department: Annotated[str, Field(max_length=32)]


class PageParams(Schema):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


def _person_out(person: Person) -> PersonOut:
    return PersonOut(
        id=person.pk,
        name=person.name,
        document_type=person.document_type,
        document_number=person.document_number_masked,
        mobile=person.mobile_masked,
        assurance_level=person.assurance_level,
        assurance_method=person.assurance_method,
    )


def _roles(user: User) -> list[RoleOut]:
    return [
        RoleOut(id=a.pk, role=a.role, department=a.department.code if a.department else None)
        for a in selectors.active_roles(user)
    ]


def _delegation_out(d: Delegation) -> DelegationOut:
    agent = d.agent_person.name if d.agent_person else str(d.agent_user)
    return DelegationOut(
        id=d.pk,
        principal=d.principal.name,
        agent=agent,
        relationship=d.relationship,
        scope=list(d.scope),
        valid_until=d.valid_until,
        active=d.revoked_at is None and d.valid_until > timezone.now(),
    )


@router.get("/me", response={200: MeOut, **problems(401)}, summary="我的账户（个人信息已脱敏）")
def me(request: HttpRequest) -> MeOut:
    user: User = request.user  # type: ignore[assignment]
    return MeOut(
        username=user.username,
        display_name=user.display_name,
        person=_person_out(user.person) if user.person else None,
        roles=_roles(user),
    )


@router.get("/me/data-access", response={200: AccessPage, **problems(401, 422)}, summary="谁查看了我的个人信息")
def my_data_access(request: HttpRequest, page: Query[PageParams]) -> AccessPage:
    records = selectors.data_access_records(request.user)  # type: ignore[arg-type]
    rows = records[page.offset : page.offset + page.limit]
    return AccessPage(
        count=records.count(),
        items=[
            AccessOut(
                occurred_at=r.occurred_at,
                accessor=r.accessor_label,
                department=r.department_name,
                fields=list(r.fields),
                purpose=r.purpose,
                case_reference=r.case_reference,
                exchange_id=r.exchange_id,
            )
            for r in rows
        ],
    )


@router.get("/me/delegations", response={200: list[DelegationOut], **problems(401)}, summary="我给出和收到的代办授权")
def my_delegations(request: HttpRequest) -> list[DelegationOut]:
    user: User = request.user  # type: ignore[assignment]
    given = list(selectors.delegations_given(user).select_related("principal", "agent_user"))
    received = list(selectors.delegations_received(user).select_related("agent_person", "agent_user"))
    return [_delegation_out(d) for d in given + received]


@router.post(
    "/me/delegations",
    response={201: DelegationOut, **problems(400, 401, 404, 422)},
    summary="授权亲属或社区工作人员代办",
)
def create_delegation(request: HttpRequest, data: DelegationIn) -> Status[DelegationOut]:
    until = timezone.make_aware(dt.datetime.combine(data.valid_until, dt.time(23, 59, 59)))
    delegation = services.grant_delegation(
        actor=request.user,  # type: ignore[arg-type]
        agent_document_type=data.agent_document_type,
        agent_document_number=data.agent_document_number,
        relationship=data.relationship,
        valid_until=until,
        scope=data.scope,
    )
    return Status(201, _delegation_out(delegation))


@router.post(
    "/me/delegations/{delegation_id}/revoke",
    response={200: DelegationOut, **problems(400, 401, 404, 422)},
    summary="撤销代办授权",
)
def revoke_delegation(request: HttpRequest, delegation_id: int) -> DelegationOut:
    delegation = selectors.get_own_delegation(request.user, delegation_id)  # type: ignore[arg-type]
    services.revoke_delegation(actor=request.user, delegation=delegation)  # type: ignore[arg-type]
    delegation.refresh_from_db()
    return _delegation_out(delegation)


@router.get(
    "/persons/{person_id}",
    response={200: PersonOut, **problems(401, 404, 422)},
    summary="自然人（脱敏），限本人；工作人员经办件或工单查看",
)
def get_person(request: HttpRequest, person_id: int) -> PersonOut:
    person = selectors.get_person_for(request.user, person_id)  # type: ignore[arg-type]
    return _person_out(person)


@router.post(
    "/persons/{person_id}/reveal",
    response={200: dict[str, str], **problems(400, 401, 404, 422)},
    summary="本人查看完整证件号码或手机号（留痕）；工作人员经办件或工单查看",
)
def reveal_person(request: HttpRequest, person_id: int, data: RevealIn) -> dict[str, str]:
    selectors.get_person_for(request.user, person_id)  # type: ignore[arg-type]
    return services.reveal_own_data(actor=request.user, fields=data.fields)  # type: ignore[arg-type]


@router.get("/staff", response={200: list[StaffOut], **problems(401, 404)}, summary="本部门及下级部门的工作人员")
def list_staff(request: HttpRequest) -> list[StaffOut]:
    actor = request.user
    if not (policy.is_platform_admin(actor) or policy.department_scope(actor, {"department_admin"})):
        services.record_event_denied(actor, "staff_list", client_address(request))
        raise ServiceError("not_found", _("请求的资源不存在"), status=404)
    return [
        StaffOut(id=u.pk, username=u.username, display_name=u.display_name, roles=_roles(u))
        for u in selectors.staff_list(actor)
    ]


@router.post("/staff/{user_id}/roles", response={201: RoleOut, **problems(400, 401, 404, 422)}, summary="授予角色")
def grant_role(request: HttpRequest, user_id: int, data: GrantIn) -> Status[RoleOut]:
    actor: User = request.user  # type: ignore[assignment]
    target = (
        selectors.staff_list(actor).filter(pk=user_id).first()
        if not policy.is_platform_admin(actor)
        else (User.objects.filter(pk=user_id).first())
    )
    department = directory_selectors.department_by_code(data.department)
    if target is None or department is None:
        services.record_event_denied(actor, "grant_role", client_address(request))
        raise ServiceError("not_found", _("用户或部门不存在"), status=404)
    assignment = services.grant_role(actor=actor, user=target, role=data.role, department=department)
    return Status(201, RoleOut(id=assignment.pk, role=assignment.role, department=department.code))


@router.post("/roles/{assignment_id}/revoke", response={204: None, **problems(400, 401, 404, 422)}, summary="撤销角色")
def revoke_role(request: HttpRequest, assignment_id: int) -> Status[None]:
    assignment = selectors.get_managed_assignment(request.user, assignment_id)
    services.revoke_role(actor=request.user, assignment=assignment)  # type: ignore[arg-type]
    return Status(204, None)
