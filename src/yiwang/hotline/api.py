"""12345 hotline API: file and follow work orders, act on them, public tracking, grid reports and cells, suggestions.

Session authentication (with CSRF on writes) except the public tracking and
the grid cells. Filing and grid reports take JSON; their ``/multipart``
twins take the same fields as multipart/form-data with up to five files in
``attachments``, kept with the order in the same transaction (a refused
file refuses the whole submission). Every state change goes through ``services.register``,
``services.perform`` or ``services.report_grid_problem``; refusals are
problem details with the service's stable code and status, and an order the
user may not see answers the same 404 as a missing one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import Field

from yiwang.core.api_access import SESSION
from yiwang.core.http import client_address
from yiwang.core.problems import ServiceError, problems

from . import page_data, policy, selectors, services
from .constants import Source
from .models import Attachment, WorkOrder
from .workflow import Actor, action_label

router = Router(tags=["12345热线 hotline"], auth=SESSION)

Text = Annotated[str, Field(max_length=services.CONTENT_MAX)]
Short = Annotated[str, Field(max_length=200)]
Code = Annotated[str, Field(max_length=64)]
ParamValue = bool | int | Annotated[str, Field(max_length=services.CONTENT_MAX)] | list[Code]
FILING_SOURCES = "^(web|mobile|kiosk|phone)$"


# --- schemas ------------------------------------------------------------------------------------------


class OrderIn(Schema):
    kind: Annotated[str, Field(max_length=16)]
    source: Annotated[str, Field(pattern=FILING_SOURCES)] = Source.WEB
    title: Short
    content: Text
    location_text: Short = ""
    longitude: Decimal | None = None
    latitude: Decimal | None = None
    anonymous: bool = False
    # Phone intake only: what the caller told the operator.
    caller_name: Annotated[str, Field(max_length=64)] = ""
    caller_phone: Annotated[str, Field(max_length=20)] = ""


class GridReportIn(Schema):
    title: Short
    content: Text
    category: Annotated[str, Field(max_length=64)]
    longitude: Decimal
    latitude: Decimal
    location_text: Short = ""


class ActionIn(Schema):
    expected_version: int | None = None
    reason: Annotated[str, Field(max_length=services.REASON_MAX)] = ""
    params: Annotated[dict[Code, ParamValue], Field(max_length=10)] = {}


class RevealCallerIn(Schema):
    purpose: Annotated[str, Field(max_length=32)]


class RevealCallerOut(Schema):
    phone: str


class PageParams(Schema):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class SuggestParams(Schema):
    title: Short
    content: Annotated[str, Field(max_length=services.CONTENT_MAX)] = ""


class TrackParams(Schema):
    number: Annotated[str, Field(max_length=32)]
    code: Annotated[str, Field(max_length=8)]


class OrderSummaryOut(Schema):
    number: str
    kind: str
    kind_label: str
    source: str
    state: str
    state_label: str
    title: str
    department: str | None
    due: dt.date | None
    created_at: dt.datetime
    version: int


class EventOut(Schema):
    action: str
    label: str
    from_state: str
    to_state: str
    department: str | None
    created_at: dt.datetime
    # Staff only: who acted and why.
    actor: str | None = None
    reason: str | None = None


class AssignmentOut(Schema):
    department: str
    department_name: str
    role: str
    state: str
    opinion: str


class SuggestionOut(Schema):
    category: str
    confidence: float
    department_code: str
    department_name: str


class CallerOut(Schema):
    name: str
    phone_masked: str


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    created_at: dt.datetime
    # The download (session authentication, the same rule as the order: its caller and staff with a part in it).
    url: str


class OrderOut(OrderSummaryOut):
    category: str
    content: str
    location_text: str
    longitude: Decimal | None
    latitude: Decimal | None
    grid_cell: str | None
    anonymous: bool
    acknowledge_due: dt.date | None
    callback_due: dt.date | None
    extension_status: str
    reply: str
    answer_source: str
    replied_at: dt.datetime | None
    closed_at: dt.datetime | None
    satisfaction: str
    duplicate_of: str | None
    # The caller's own: the verification code for 工单查询. Staff who may know: who called.
    verification_code: str | None
    caller: CallerOut | None
    suggestions: list[SuggestionOut]
    assignments: list[AssignmentOut]
    attachments: list[AttachmentOut]
    events: list[EventOut]
    actions: list[str]


class OrderPage(Schema):
    items: list[OrderSummaryOut]
    count: int


class PublicStepOut(Schema):
    label: str
    department: str
    created_at: dt.datetime


class PublicProgressOut(Schema):
    number: str
    kind: str
    kind_label: str
    state: str
    state_label: str
    title: str
    department: str
    registered_on: dt.date
    due: dt.date | None
    reply: str
    steps: list[PublicStepOut]


class SuggestOut(Schema):
    suggestions: list[SuggestionOut]
    # Why there are none, when there are none (no trained classifier).
    note: str


# --- building answers -----------------------------------------------------------------------------------


def _summary(order: WorkOrder) -> OrderSummaryOut:
    return OrderSummaryOut(
        number=order.number,
        kind=order.kind,
        kind_label=order.get_kind_display(),
        source=order.source,
        state=order.state,
        state_label=order.get_state_display(),
        title=order.title,
        department=order.department.code if order.department is not None else None,
        due=order.due,
        created_at=order.created_at,
        version=order.version,
    )


def _attachment_out(order: WorkOrder, attachment: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=attachment.pk,
        name=attachment.name,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        created_at=attachment.created_at,
        url=reverse("hotline:attachment", args=[order.number, attachment.pk]),
    )


def _order_out(request: HttpRequest, order: WorkOrder) -> OrderOut:
    user = request.user
    kinds = policy.actor_kinds(user, order)
    staff = page_data.sees_as_staff(user, order, kinds)
    is_caller = order.caller_user_id is not None and order.caller_user_id == user.pk
    hide_caller = not policy.may_see_caller(user, order)
    events = []
    for event in selectors.timeline(order, for_staff=staff):
        actor = None
        if staff:
            actor = event.actor_label
            if hide_caller and event.actor_id is not None and event.actor_id == order.caller_user_id:
                actor = _("举报人")
        events.append(
            EventOut(
                action=event.action,
                label=action_label(event.action),
                from_state=event.from_state,
                to_state=event.to_state,
                department=event.department.name if event.department is not None else None,
                created_at=event.created_at,
                actor=actor,
                reason=event.reason if staff else None,
            )
        )
    desk = bool(kinds & {Actor.OPERATOR, Actor.SUPERVISOR})
    return OrderOut(
        **_summary(order).dict(),
        category=order.category,
        content=order.content,
        location_text=order.location_text,
        longitude=order.longitude,
        latitude=order.latitude,
        grid_cell=order.grid_cell.code if order.grid_cell is not None else None,
        anonymous=order.anonymous,
        acknowledge_due=order.acknowledge_due,
        callback_due=order.callback_due,
        extension_status=order.extension_status,
        reply=order.reply,
        answer_source=order.answer_source,
        replied_at=order.replied_at,
        closed_at=order.closed_at,
        satisfaction=order.satisfaction,
        duplicate_of=order.duplicate_of.number if order.duplicate_of is not None else None,
        verification_code=order.verification_code if is_caller else None,
        caller=CallerOut(name=order.caller_name, phone_masked=order.caller_phone_masked)
        if staff and not hide_caller
        else None,
        suggestions=[SuggestionOut(**_suggestion(s)) for s in order.suggestions or []] if desk else [],
        assignments=[
            AssignmentOut(
                department=a.department.code,
                department_name=a.department.name,
                role=a.role,
                state=a.state,
                opinion=a.opinion,
            )
            for a in order.assignments.all()
        ]
        if staff
        else [],
        # Whoever gets here may see the whole order (selectors.get_visible), files included.
        attachments=[_attachment_out(order, a) for a in selectors.attachments(order)],
        events=events,
        actions=[step.action for step in page_data.available_actions(user, order, as_caller=not staff, kinds=kinds)],
    )


def _suggestion(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "category": str(raw.get("category", "")),
        "confidence": float(raw.get("confidence") or 0),
        "department_code": str(raw.get("department_code", "")),
        "department_name": str(raw.get("department_name", "")),
    }


# --- work orders -------------------------------------------------------------------------------------------


def _file_order(request: HttpRequest, data: OrderIn, attachments: list[UploadedFile]) -> Status[OrderOut]:
    if data.source == Source.PHONE:
        caller = services.CallerDetails(name=data.caller_name, phone=data.caller_phone, anonymous=data.anonymous)
    else:
        caller = services.CallerDetails(user=request.user, anonymous=data.anonymous)
    order = services.register(
        actor=request.user,
        kind=data.kind,
        source=data.source,
        title=data.title,
        content=data.content,
        caller=caller,
        location_text=data.location_text,
        longitude=data.longitude,
        latitude=data.latitude,
        auto_dispatch=True,
        attachments=attachments,
    )
    return Status(201, _order_out(request, selectors.get_visible(request.user, order.number)))


@router.post(
    "/orders",
    response={201: OrderOut, **problems(400, 401, 403, 404, 422)},
    summary="提交诉求（网站、移动端、自助终端；话务员登记电话工单）",
)
def hotline_file_order(request: HttpRequest, data: OrderIn) -> Status[OrderOut]:
    return _file_order(request, data, [])


# Declared before /orders/{number}, whose path would otherwise take "multipart" for an order number.
@router.post(
    "/orders/multipart",
    response={201: OrderOut, **problems(400, 401, 403, 404, 422)},
    summary="提交诉求并附照片或 PDF（multipart/form-data，字段同上，文件放在 attachments，最多5个）",
)
def hotline_file_order_multipart(
    request: HttpRequest,
    data: Form[OrderIn],
    attachments: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> Status[OrderOut]:
    return _file_order(request, data, list(attachments or []))


@router.get("/orders", response={200: OrderPage, **problems(401, 422)}, summary="我的诉求（分页）")
def hotline_my_orders(request: HttpRequest, page: Query[PageParams]) -> OrderPage:
    orders = selectors.my_orders(request.user)
    return OrderPage(items=[_summary(o) for o in orders[page.offset : page.offset + page.limit]], count=orders.count())


@router.get(
    "/orders/{number}",
    response={200: OrderOut, **problems(401, 404, 422)},
    summary="工单详情（来电人、承办部门、话务员、监督人员）",
)
def hotline_get_order(request: HttpRequest, number: Annotated[str, Field(max_length=32)]) -> OrderOut:
    return _order_out(request, selectors.get_visible(request.user, number))


@router.post(
    "/orders/{number}/caller/reveal",
    response={200: RevealCallerOut, **problems(400, 401, 404, 409, 422, 429)},
    summary="查看来电人完整电话（限持有该工单的话务员或承办部门，回访用，留痕、限次）",
)
def hotline_reveal_caller(
    request: HttpRequest, number: Annotated[str, Field(max_length=32)], data: RevealCallerIn
) -> RevealCallerOut:
    return RevealCallerOut(phone=services.reveal_caller_phone(actor=request.user, number=number, purpose=data.purpose))


@router.post(
    "/orders/{number}/actions/{action}",
    response={200: OrderOut, **problems(400, 401, 403, 404, 409, 422)},
    summary="工单操作（按状态转换表和权限校验）",
)
def hotline_act(
    request: HttpRequest,
    number: Annotated[str, Field(max_length=32)],
    action: Annotated[str, Field(max_length=32)],
    data: ActionIn,
) -> OrderOut:
    selectors.get_visible(request.user, number)
    allowed = page_data.ACTION_PARAMS.get(action)
    if allowed is None:
        raise ServiceError("unknown_action", _("未知的操作"))
    unknown = sorted(set(data.params) - allowed)
    if unknown:
        raise ServiceError(
            "unknown_parameter",
            _("该操作不接受参数：%(names)s") % {"names": "、".join(unknown)},
            status=422,
            allowed=sorted(allowed),
        )
    order = services.perform(
        number,
        action,
        actor=request.user,
        expected_version=data.expected_version,
        reason=data.reason,
        **data.params,
    )
    return _order_out(request, selectors.get_visible(request.user, order.number))


@router.get(
    "/track",
    response={200: PublicProgressOut, **problems(404, 422, 429)},
    auth=None,
    summary="工单查询（工单编号＋查询码，无个人信息）",
)
def hotline_track(request: HttpRequest, params: Query[TrackParams]) -> PublicProgressOut:
    ip = client_address(request) or ""
    refused = page_data.track_refused(ip)
    if refused:
        raise ServiceError("too_many_attempts", refused, status=429)
    order = selectors.public_progress(params.number, params.code)
    if order is None:
        page_data.record_failed_track(ip)
        raise ServiceError("not_found", _("工单编号或查询码不正确"), status=404)
    progress = page_data.public_progress(order)
    return PublicProgressOut(
        **{name: value for name, value in progress.__dict__.items() if name != "steps"},
        steps=[PublicStepOut(label=s.label, department=s.department, created_at=s.created_at) for s in progress.steps],
    )


# --- grid -------------------------------------------------------------------------------------------------


def _report_grid_problem(request: HttpRequest, data: GridReportIn, attachments: list[UploadedFile]) -> Status[OrderOut]:
    order = services.report_grid_problem(
        actor=request.user,
        title=data.title,
        content=data.content,
        category=data.category,
        longitude=data.longitude,
        latitude=data.latitude,
        location_text=data.location_text,
        attachments=attachments,
    )
    return Status(201, _order_out(request, selectors.get_visible(request.user, order.number)))


@router.post(
    "/grid/reports",
    response={201: OrderOut, **problems(400, 401, 403, 404, 422)},
    summary="网格上报（地图上的一点，派至该网格的网格员）",
)
def hotline_report_grid_problem(request: HttpRequest, data: GridReportIn) -> Status[OrderOut]:
    return _report_grid_problem(request, data, [])


@router.post(
    "/grid/reports/multipart",
    response={201: OrderOut, **problems(400, 401, 403, 404, 422)},
    summary="网格上报并附现场照片（multipart/form-data，字段同上，文件放在 attachments，最多5个）",
)
def hotline_report_grid_problem_multipart(
    request: HttpRequest,
    data: Form[GridReportIn],
    attachments: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> Status[OrderOut]:
    return _report_grid_problem(request, data, list(attachments or []))


@router.get("/grid/cells", response={200: dict[str, Any]}, auth=None, summary="有效网格（GeoJSON，不含网格员信息）")
def hotline_grid_cells(request: HttpRequest) -> dict[str, Any]:
    return page_data.grid_feature_collection()


# --- suggestions --------------------------------------------------------------------------------------------


@router.get(
    "/suggest",
    response={200: SuggestOut, **problems(401, 403, 422)},
    summary="派单建议：分类、责任部门和置信度（话务员）",
)
def hotline_suggest(request: HttpRequest, params: Query[SuggestParams]) -> SuggestOut:
    if not policy.is_operator(request.user):
        raise ServiceError("operators_only", _("派单建议仅供12345话务员使用"), status=403)
    found, note = services.suggest(params.title, params.content)
    return SuggestOut(suggestions=[SuggestionOut(**s.__dict__) for s in found], note=note)
