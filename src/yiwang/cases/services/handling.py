"""Changes along the way: suspending and resuming, extensions, transfer to another department, withdrawal.

Handlers for :func:`yiwang.cases.services.actions.perform`, which has checked state, actor and reason.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases.constants import CaseOutcome, CaseState, ExtensionStatus, PauseReason, TaskStatus
from yiwang.cases.models import Case, CaseTask, CorrectionNotice, Extension
from yiwang.cases.services._shared import Handler, no_params
from yiwang.cases.services._stages import cancel_tasks, move_deadlines, pause_clock, resume_clock
from yiwang.cases.services.errors import CaseActionRefused, CaseError
from yiwang.cases.workflow import Transition
from yiwang.directory import selectors as directory_selectors

MAX_EXTENSION_DAYS = 60


def _suspend(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    no_params(params)
    case.return_state = case.state
    case.state = CaseState.SUSPENDED
    pause_clock(case, PauseReason.SUSPENDED)
    return {}


def _resume(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    no_params(params)
    case.state = case.return_state or CaseState.IN_REVIEW
    case.return_state = ""
    return {"paused_working_days": resume_clock(case)}


def _request_extension(
    case: Case, step: Transition, *, actor: Any, reason: str, days: int = 0, **params: Any
) -> dict[str, Any]:
    no_params(params)
    if not 1 <= int(days) <= MAX_EXTENSION_DAYS:
        raise CaseError("bad_days", _("延期须为1至%(max)s个工作日") % {"max": MAX_EXTENSION_DAYS})
    if case.extensions.filter(status=ExtensionStatus.REQUESTED).exists():
        raise CaseActionRefused("extension_pending", _("已有待审批的延期申请"))
    extension = Extension.objects.create(case=case, days=int(days), reason=reason, requested_by=actor)
    return {"extension": extension.pk, "days": extension.days}


def _decide_extension(
    case: Case, step: Transition, *, actor: Any, reason: str, approve: bool | None = None, **params: Any
) -> dict[str, Any]:
    no_params(params)
    if approve is None:
        raise CaseError("decision_required", _("请选择批准或不批准"))
    extension = case.extensions.select_for_update().filter(status=ExtensionStatus.REQUESTED).first()
    if extension is None:
        raise CaseActionRefused("no_extension", _("没有待审批的延期申请"))
    if extension.requested_by_id == getattr(actor, "pk", None):
        raise CaseActionRefused("four_eyes", _("延期申请须由申请人以外的审批人员审批"))
    extension.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
    extension.decided_by = actor
    extension.decided_at = timezone.now()
    extension.decision_reason = reason
    extension.save()
    if approve:
        move_deadlines(case, extension.days)
    return {"extension": extension.pk, "approved": bool(approve), "days": extension.days}


def _transfer(
    case: Case, step: Transition, *, actor: Any, reason: str, department: str = "", **params: Any
) -> dict[str, Any]:
    no_params(params)
    target = directory_selectors.department_by_code(department)
    if target is None:
        raise CaseError("unknown_department", _("接收部门不存在"))
    if target.pk == case.department_id:
        raise CaseError("same_department", _("不能移交给本部门"))
    previous = case.department.code
    CaseTask.objects.filter(case=case, status=TaskStatus.OPEN, department=case.department).update(department=target)
    case.department = target
    return {"from_department": previous, "to_department": target.code}


def _withdraw(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    no_params(params)
    cancel_tasks(case)
    resume_clock(case)
    CorrectionNotice.objects.filter(case=case, resolved_at__isnull=True).update(resolved_at=timezone.now())
    if case.state == CaseState.AWAITING_PAYMENT:
        from yiwang.cases import payments

        payments.cancel_orders(case)
    case.state = CaseState.WITHDRAWN
    case.outcome = CaseOutcome.WITHDRAWN
    case.closed_at = timezone.now()
    return {}


HANDLERS: dict[str, Handler] = {
    "suspend": _suspend,
    "resume": _resume,
    "request_extension": _request_extension,
    "decide_extension": _decide_extension,
    "transfer": _transfer,
    "withdraw": _withdraw,
}
