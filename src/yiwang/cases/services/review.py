"""Review and decision: review tasks, approval or refusal, payment, the certificate, closing.

Handlers for :func:`yiwang.cases.services.actions.perform`, which has checked state, actor and reason.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases import definitions, policy
from yiwang.cases.constants import CaseOutcome, CaseState, StepKind, TaskStatus
from yiwang.cases.models import Case, CaseTask
from yiwang.cases.services._shared import Handler, no_params
from yiwang.cases.services._stages import advance, cancel_tasks, finish_tasks, open_stage, stage_after, stage_of
from yiwang.cases.services.errors import CaseActionRefused, CaseError
from yiwang.cases.workflow import Transition
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import calendar


def _open_task_for(case: Case, actor: Any, task_id: int | None) -> CaseTask:
    tasks = CaseTask.objects.select_for_update().filter(case=case, stage=case.current_stage, status=TaskStatus.OPEN)
    if task_id is not None:
        tasks = tasks.filter(pk=task_id)
    for task in tasks.select_related("department"):
        if policy.can_work_task(actor, task):
            return task
    raise CaseActionRefused("no_task", _("当前环节没有您可以办理的任务"))


def _complete_task(
    case: Case, step: Transition, *, actor: Any, reason: str, task_id: int | None = None, **params: Any
) -> dict[str, Any]:
    no_params(params)
    stage = stage_of(case, case.current_stage)
    if stage.kind != StepKind.REVIEW:
        raise CaseActionRefused("not_review_stage", _("当前环节不是审查环节"))
    task = _open_task_for(case, actor, task_id)
    task.status = TaskStatus.DONE
    task.completed_at = timezone.now()
    task.completed_by = actor
    task.opinion = reason
    task.save(update_fields=["status", "completed_at", "completed_by", "opinion"])
    detail: dict[str, Any] = {"task": task.pk, "department": task.department.code}
    # Parallel branches join: the next stage opens when the last branch is done.
    if not CaseTask.objects.filter(case=case, stage=case.current_stage, status=TaskStatus.OPEN).exists():
        next_stage = advance(case, actor=actor)
        detail["next_stage"] = next_stage.key if next_stage else ""
    return detail


def _decision_stage_check(case: Case) -> None:
    if stage_of(case, case.current_stage).kind != StepKind.DECISION:
        raise CaseActionRefused("not_decision_stage", _("审查尚未完成，不能作出决定"))


def _approve(
    case: Case, step: Transition, *, actor: Any, reason: str, fee_situation: str = "", **params: Any
) -> dict[str, Any]:
    no_params(params)
    _decision_stage_check(case)
    _open_task_for(case, actor, None)
    if case.requires_payment:
        from yiwang.cases import payments

        known = {*catalog_selectors.fee_situations(case.item), definitions.NO_FEE_SITUATION}
        if fee_situation and fee_situation not in known:
            raise CaseError("unknown_fee_situation", _("收费情形不是该事项公布的情形之一"))
        if payments.fee_situation_needed(case, fee_situation):
            # The applicant did not say which fee line applies (or could not): the approver decides, never a sum.
            raise CaseError("fee_situation_required", _("请选择适用的收费情形，系统不会将可选的收费项目相加"))
    case.decided_at = timezone.now()
    case.outcome = CaseOutcome.APPROVED
    finish_tasks(case, case.current_stage, actor=actor, opinion=reason)
    if case.requires_payment:
        from yiwang.cases import payments

        order = payments.create_order(case, situation=fee_situation)
        case.state = CaseState.AWAITING_PAYMENT
        return {"payment_order": order.order_number, "amount": str(order.amount)}
    _enter_certificate(case, actor)
    return {}


def _enter_certificate(case: Case, actor: Any) -> None:
    case.state = CaseState.ISSUING
    stage = stage_after(case, case.current_stage)
    if stage is not None:
        open_stage(case, stage, start=calendar.today_local())


def _refuse(
    case: Case, step: Transition, *, actor: Any, reason: str, legal_basis: str = "", **params: Any
) -> dict[str, Any]:
    no_params(params)
    _decision_stage_check(case)
    _open_task_for(case, actor, None)
    if len(legal_basis.strip()) < 2:
        raise CaseError("legal_basis_required", _("不予许可须写明法律依据"))
    finish_tasks(case, case.current_stage, actor=actor, opinion=reason)
    cancel_tasks(case)
    case.state = CaseState.REFUSED
    case.outcome = CaseOutcome.REFUSED
    case.decided_at = case.closed_at = timezone.now()
    return {"legal_basis": legal_basis.strip()[:500]}


def _confirm_payment(
    case: Case, step: Transition, *, actor: Any, reason: str, order_number: str = "", **params: Any
) -> dict[str, Any]:
    no_params(params)
    if not case.payments.filter(order_number=order_number, status="paid").exists():
        raise CaseActionRefused("payment_not_confirmed", _("未收到该办件的缴费确认"))
    _enter_certificate(case, actor)
    return {"payment_order": order_number}


def _issue_certificate(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    no_params(params)
    _open_task_for(case, actor, None)
    case.state = CaseState.READY_FOR_COLLECTION
    advance(case, actor=actor, opinion=reason)
    return {"result": case.item.result_name}


def _close(case: Case, step: Transition, *, actor: Any, reason: str, **params: Any) -> dict[str, Any]:
    no_params(params)
    finish_tasks(case, case.current_stage, actor=actor, opinion=reason)
    case.state = CaseState.CLOSED
    case.closed_at = timezone.now()
    return {}


HANDLERS: dict[str, Handler] = {
    "complete_task": _complete_task,
    "approve": _approve,
    "refuse": _refuse,
    "confirm_payment": _confirm_payment,
    "issue_certificate": _issue_certificate,
    "close": _close,
}
