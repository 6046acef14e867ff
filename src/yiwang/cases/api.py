"""Case handling API: applications, submission, my cases, actions, public progress, the workbench.

Session authentication (with CSRF on writes) except the public progress
lookup. Every action goes through ``services.perform``; a missing and a
forbidden case answer the same 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import Field

from yiwang.core.api_access import SESSION, Access, ServiceCaller
from yiwang.core.http import client_address
from yiwang.core.problems import ServiceError, problems

from . import policy, selectors, services
from .constants import CaseState
from .models import Application, Case, CaseEvent, CaseTask

router = Router(tags=["办件 cases"], auth=SESSION)

Key = Annotated[str, Field(max_length=64)]


class ProblemOut(Schema):
    key: str
    kind: str
    message: str


class ApplicationIn(Schema):
    item_code: Annotated[str, Field(max_length=80)] = ""
    bundle_code: Annotated[str, Field(max_length=40)] = ""
    organisation_id: int | None = None


class DraftIn(Schema):
    answers: Annotated[dict[Key, Annotated[str, Field(max_length=100)]], Field(max_length=50)] | None = None
    form_data: Annotated[dict[Key, Annotated[str, Field(max_length=5000)]], Field(max_length=100)] | None = None


class FileOut(Schema):
    id: int
    material_key: str
    name: str
    content_type: str
    size: int
    sha256: str
    scan_status: str


class ApplicationOut(Schema):
    id: int
    state: str
    item_code: str
    bundle_code: str
    channel: str
    answers: dict[str, str]
    form_data: dict[str, str]
    files: list[FileOut]
    problems: list[ProblemOut]


class CaseSummaryOut(Schema):
    number: str
    item_code: str
    item_name: str
    department: str
    state: str
    state_label: str
    submitted_at: dt.datetime
    promised_due: dt.date | None
    version: int


class EventOut(Schema):
    action: str
    from_state: str
    to_state: str
    actor: str
    on_behalf_of: str
    reason: str
    detail: dict[str, Any]
    created_at: dt.datetime


class TaskOut(Schema):
    id: int
    stage: str
    name: str
    department: str
    role: str
    status: str
    due: dt.date | None


class CaseOut(CaseSummaryOut):
    verification_code: str | None
    statutory_due: dt.date | None
    due_provisional: bool
    deadline_warning: str
    current_stage: str
    expected: dict[str, Any]
    tasks: list[TaskOut]
    events: list[EventOut]


class SubmitOut(Schema):
    cases: list[CaseSummaryOut]


class RevealIn(Schema):
    fields: Annotated[list[Annotated[str, Field(max_length=32)]], Field(min_length=1, max_length=3)]
    purpose: Annotated[str, Field(max_length=32)]


class ActionIn(Schema):
    version: int | None = None
    reason: Annotated[str, Field(max_length=2000)] = ""
    legal_basis: Annotated[str, Field(max_length=500)] = ""
    # approve: the fee situation, when the applicant's answers do not pick one of the alternative fee lines.
    fee_situation: Annotated[str, Field(max_length=200)] = ""
    task_id: int | None = None
    department: Annotated[str, Field(max_length=32)] = ""
    days: Annotated[int, Field(ge=0, le=365)] | None = None
    approve: bool | None = None
    items: Annotated[list[dict[Key, Annotated[str, Field(max_length=300)]]], Field(max_length=50)] | None = None
    form_data: Annotated[dict[Key, Annotated[str, Field(max_length=5000)]], Field(max_length=100)] | None = None


class WorkbenchRow(Schema):
    task_id: int
    number: str
    item_name: str
    applicant: str
    state: str
    stage: str
    department: str
    due: dt.date | None
    version: int


class WorkbenchPage(Schema):
    items: list[WorkbenchRow]
    count: int


class WorkbenchParams(Schema):
    state: Annotated[str, Field(max_length=24)] = ""
    deadline: Annotated[str, Field(pattern="^(|overdue|due_soon|paused)$")] = ""
    number: Annotated[str, Field(max_length=64)] = ""
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class PageParams(Schema):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class CasePage(Schema):
    items: list[CaseSummaryOut]
    count: int


class PublicProgressOut(Schema):
    number: str
    item_name: str
    department: str
    state: str
    state_label: str
    submitted_on: dt.date
    promised_due: dt.date | None
    steps: list[tuple[str, dt.datetime]]


class PublicBundleProgressOut(Schema):
    number: str
    bundle_name: str
    submitted_on: dt.date
    cases: list[PublicProgressOut]


def _application_out(application: Application) -> ApplicationOut:
    return ApplicationOut(
        id=application.pk,
        state=application.state,
        item_code=application.item_code,
        bundle_code=application.bundle_code,
        channel=application.channel,
        answers=application.situation_answers,
        form_data=application.form_data,
        files=[
            FileOut(
                id=f.pk,
                material_key=f.material_key,
                name=f.original_name,
                content_type=f.content_type,
                size=f.size,
                sha256=f.sha256,
                scan_status=f.scan_status,
            )
            for f in application.files.filter(superseded_at__isnull=True).order_by("id")
        ],
        problems=[
            ProblemOut(key=p.key, kind=p.kind, message=p.message) for p in services.application_problems(application)
        ]
        if application.state == "draft"
        else [],
    )


def _summary(case: Case) -> CaseSummaryOut:
    return CaseSummaryOut(
        number=case.number,
        item_code=case.item_code,
        item_name=case.item_name,
        department=case.department.name,
        state=case.state,
        state_label=str(CaseState(case.state).label),
        submitted_at=case.submitted_at,
        promised_due=case.promised_due,
        version=case.version,
    )


def _event_out(event: CaseEvent) -> EventOut:
    return EventOut(
        action=event.action,
        from_state=event.from_state,
        to_state=event.to_state,
        actor=event.actor_label,
        on_behalf_of=event.on_behalf_of,
        reason=event.reason,
        detail=event.detail,
        created_at=event.created_at,
    )


def _task_out(task: CaseTask) -> TaskOut:
    return TaskOut(
        id=task.pk,
        stage=task.stage,
        name=task.name,
        department=task.department.name,
        role=task.role,
        status=task.status,
        due=task.due,
    )


def _case_out(request: HttpRequest, case: Case) -> CaseOut:
    is_applicant = policy.is_case_applicant(request.user, case)
    # Staff, supervisors and anyone else allowed to view who is not the applicant see the internal entries too.
    staff = policy.is_case_staff(request.user, case) or not is_applicant
    expected = selectors.expected_of_applicant(case)
    return CaseOut(
        **_summary(case).dict(),
        verification_code=case.verification_code if is_applicant else None,
        statutory_due=case.statutory_due,
        due_provisional=case.due_provisional,
        deadline_warning=selectors.deadline_warning(case),
        current_stage=case.current_stage,
        expected={"kind": expected.kind, "message": expected.message, "due": expected.due, "items": expected.items},
        tasks=[_task_out(t) for t in selectors.case_tasks(case)],
        events=[_event_out(e) for e in selectors.timeline(case, for_staff=staff)],
    )


@router.post(
    "/applications", response={201: ApplicationOut, **problems(400, 401, 404, 422)}, summary="开始一份申请（草稿）"
)
def start_application(request: HttpRequest, data: ApplicationIn) -> Status[ApplicationOut]:
    applicant = services.applicant_for(request.user, organisation_id=data.organisation_id)
    application = services.start_application(
        actor=request.user, applicant=applicant, item_code=data.item_code, bundle_code=data.bundle_code
    )
    return Status(201, _application_out(application))


@router.get(
    "/applications/{application_id}",
    response={200: ApplicationOut, **problems(401, 404, 422)},
    summary="查看申请（含尚缺内容）",
)
def get_application(request: HttpRequest, application_id: int) -> ApplicationOut:
    return _application_out(selectors.get_application(request.user, application_id))


@router.put(
    "/applications/{application_id}",
    response={200: ApplicationOut, **problems(400, 401, 404, 409, 422)},
    summary="保存草稿（情形选择与表单）",
)
def save_application(request: HttpRequest, application_id: int, data: DraftIn) -> ApplicationOut:
    application = selectors.get_application(request.user, application_id)
    services.save_draft(application, actor=request.user, answers=data.answers, form_data=data.form_data)
    application.refresh_from_db()
    return _application_out(application)


@router.post(
    "/applications/{application_id}/files",
    response={201: FileOut, **problems(400, 401, 404, 409, 413, 422)},
    summary="上传申请材料",
)
def upload_file(
    request: HttpRequest,
    application_id: int,
    material_key: Form[Key],
    file: File[UploadedFile],
) -> Status[FileOut]:
    application = selectors.get_application(request.user, application_id)
    stored = services.attach_file(
        application, actor=request.user, material_key=material_key, name=file.name or "", stream=file
    )
    return Status(
        201,
        FileOut(
            id=stored.pk,
            material_key=stored.material_key,
            name=stored.original_name,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            scan_status=stored.scan_status,
        ),
    )


@router.post(
    "/applications/{application_id}/submit",
    response={200: SubmitOut, **problems(400, 401, 404, 409, 422)},
    summary="提交申请（幂等：请带 Idempotency-Key）",
)
def submit_application(request: HttpRequest, application_id: int) -> SubmitOut:
    application = selectors.get_application(request.user, application_id)
    key = request.headers.get("Idempotency-Key", "")
    cases = services.submit_application(application, actor=request.user, submission_key=key)
    return SubmitOut(cases=[_summary(c) for c in cases])


@router.get("/workbench", response={200: WorkbenchPage, **problems(401, 422)}, summary="工作台：我的待办（超期优先）")
def workbench(request: HttpRequest, params: Query[WorkbenchParams]) -> WorkbenchPage:
    tasks = selectors.workbench(
        request.user,
        selectors.WorkbenchFilters(state=params.state, deadline=params.deadline, number=params.number),
    )
    rows = [
        WorkbenchRow(
            task_id=t.pk,
            number=t.case.number,
            item_name=t.case.item_name,
            applicant=t.case.applicant_name,
            state=t.case.state,
            stage=t.name,
            department=t.department.name,
            due=t.due,
            version=t.case.version,
        )
        for t in tasks[params.offset : params.offset + params.limit]
    ]
    return WorkbenchPage(items=rows, count=tasks.count())


@router.get(
    "/lookup",
    response={200: PublicProgressOut, **problems(404, 422, 429)},
    auth=None,
    summary="办件查询（办件编号＋查询码，无个人信息）",
)
def lookup(
    request: HttpRequest, number: Annotated[str, Field(max_length=64)], code: Annotated[str, Field(max_length=16)]
) -> PublicProgressOut:
    services.check_lookup_allowed(client_address(request) or "")
    progress = selectors.public_progress(number, code)
    if progress is None:
        services.record_failed_lookup(client_address(request) or "")
        raise ServiceError("not_found", _("办件编号或查询码不正确"), status=404)
    return PublicProgressOut(**progress.__dict__)


@router.get(
    "/bundles/lookup",
    response={200: PublicBundleProgressOut, **problems(404, 422, 429)},
    auth=None,
    summary="一件事查询（一件事编号＋查询码，各办件进度，无个人信息）",
)
def lookup_bundle(
    request: HttpRequest, number: Annotated[str, Field(max_length=64)], code: Annotated[str, Field(max_length=16)]
) -> PublicBundleProgressOut:
    services.check_lookup_allowed(client_address(request) or "")
    progress = selectors.public_bundle_progress(number, code)
    if progress is None:
        services.record_failed_lookup(client_address(request) or "")
        raise ServiceError("not_found", _("办件编号或查询码不正确"), status=404)
    return PublicBundleProgressOut(
        number=progress.number,
        bundle_name=progress.bundle_name,
        submitted_on=progress.submitted_on,
        cases=[PublicProgressOut(**case.__dict__) for case in progress.cases],
    )


@router.get("/", response={200: CasePage, **problems(401, 422)}, summary="我的办件")
def my_cases(request: HttpRequest, page: Query[PageParams]) -> CasePage:
    cases = selectors.my_cases(request.user)
    return CasePage(items=[_summary(c) for c in cases[page.offset : page.offset + page.limit]], count=cases.count())


@router.get(
    "/{number}",
    response={200: CaseOut, **problems(401, 404, 422)},
    summary="办件详情（时间线、当前环节、期限、需要我做什么）",
)
def get_case(request: HttpRequest, number: str) -> CaseOut:
    return _case_out(request, selectors.get_case(request.user, number))


class CaseStatusOut(Schema):
    """A case's progress without personal data: what a department's own system needs to follow it."""

    number: str
    item_code: str
    item_name: str
    department_code: str
    department: str
    state: str
    state_label: str
    current_stage: str
    submitted_at: dt.datetime
    promised_due: dt.date | None
    statutory_due: dt.date | None
    due_provisional: bool
    deadline_warning: str
    tasks: list[TaskOut]
    version: int


@router.get(
    "/{number}/status",
    response={200: CaseStatusOut, **problems(401, 403, 404, 422)},
    auth=Access("cases:read"),
    summary="办件状态（部门业务系统以 cases:read 令牌读取本部门办件；登录用户读取自己可见的办件）",
)
def case_status(request: HttpRequest, number: Annotated[str, Field(max_length=64)]) -> CaseStatusOut:
    caller = request.auth  # type: ignore[attr-defined]  # set by Ninja's authentication
    if isinstance(caller, ServiceCaller):
        case = selectors.case_for_department_system(caller.department_codes, number)
    else:
        case = selectors.get_case(request.user, number)
    return CaseStatusOut(
        number=case.number,
        item_code=case.item_code,
        item_name=case.item_name,
        department_code=case.department.code,
        department=case.department.name,
        state=case.state,
        state_label=str(CaseState(case.state).label),
        current_stage=case.current_stage,
        submitted_at=case.submitted_at,
        promised_due=case.promised_due,
        statutory_due=case.statutory_due,
        due_provisional=case.due_provisional,
        deadline_warning=selectors.deadline_warning(case),
        tasks=[_task_out(t) for t in selectors.case_tasks(case)],
        version=case.version,
    )


@router.post(
    "/{number}/applicant/reveal",
    response={200: dict[str, str], **problems(400, 401, 404, 422, 429)},
    summary="查看申请人完整证件号码、手机号或姓名（限办理该办件环节的工作人员，留痕、限次）",
)
def reveal_applicant(
    request: HttpRequest, number: Annotated[str, Field(max_length=64)], data: RevealIn
) -> dict[str, str]:
    return services.reveal_applicant(actor=request.user, number=number, fields=data.fields, purpose=data.purpose)


@router.post(
    "/{number}/actions/{action}",
    response={200: CaseOut, **problems(400, 401, 404, 409, 422, 429)},
    summary="办理动作（按状态转换表校验）",
)
def act(request: HttpRequest, number: str, action: str, data: ActionIn) -> CaseOut:
    selectors.get_case(request.user, number)
    params: dict[str, Any] = {}
    for name in ("legal_basis", "department", "fee_situation"):
        if getattr(data, name):
            params[name] = getattr(data, name)
    for name in ("task_id", "days", "approve", "items", "form_data"):
        if getattr(data, name) is not None:
            params[name] = getattr(data, name)
    case = services.perform(
        number, action, actor=request.user, expected_version=data.version, reason=data.reason, **params
    )
    return _case_out(request, case)
