"""The hotline centre's decisions on a registered order: dispatch, answer directly, merge, transfer.

Handlers for :func:`yiwang.hotline.services.actions.perform`, which has checked state, actor and reason.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.core import calendar
from yiwang.hotline.constants import AssignmentState, DispatchMode, WorkOrderKind, WorkOrderState
from yiwang.hotline.models import DispatchCorrection, WorkOrder
from yiwang.hotline.services._shared import (
    add_event,
    department_by_code,
    finish_live_assignments,
    move_to,
    open_assignments,
)
from yiwang.hotline.services.errors import ActionRefused, HotlineError
from yiwang.hotline.services.rules import CONTENT_MAX, clean_text
from yiwang.hotline.workflow import Transition


def _dispatch(
    order: WorkOrder,
    rule: Transition,
    *,
    actor: Any,
    kinds: set[str],
    reason: str,
    department: Any = None,
    category: str = "",
    assisting: list[str] | tuple[str, ...] = (),
    mode: str = DispatchMode.OPERATOR,
    assignee: Any = None,
) -> None:
    lead = department_by_code(department)
    helpers = [department_by_code(code, field="assisting") for code in dict.fromkeys(assisting)]
    category = clean_text(category or order.category, field="category", label=_("分类"), max_length=64, required=False)
    best = order.suggestions[0] if order.suggestions else None
    if actor is not None and best and (best.get("category") != category or best.get("department_code") != lead.code):
        # The operator chose otherwise than the classifier: kept for retraining (yiwang hotline train).
        DispatchCorrection.objects.create(
            work_order=order,
            suggested_category=best.get("category", ""),
            suggested_department=best.get("department_code", ""),
            confidence=best.get("confidence"),
            chosen_category=category,
            chosen_department=lead.code,
            operator=actor,
        )
    open_assignments(order, lead, helpers, start=calendar.today_local())
    order.category = category
    order.dispatch_mode = mode if actor is None else DispatchMode.OPERATOR
    if assignee is not None:
        order.assignee = assignee
    from_state = move_to(
        order,
        rule.target or WorkOrderState.DISPATCHED,
        department=order.department,
        category=order.category,
        dispatch_mode=order.dispatch_mode,
        acknowledge_due=order.acknowledge_due,
        due=order.due,
        due_provisional=order.due_provisional,
        extension_status=order.extension_status,
        extension_days=order.extension_days,
        assignee=order.assignee,
    )
    add_event(
        order,
        "dispatch",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        reason=reason,
        department=lead,
        detail={
            "department": lead.code,
            "assisting": [d.code for d in helpers],
            "category": category,
            "mode": order.dispatch_mode,
        },
    )


def _answer(
    order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, answer: str = "", source: str = ""
) -> None:
    if order.kind not in {WorkOrderKind.CONSULT, WorkOrderKind.HELP}:
        raise ActionRefused("answer_consult_only", _("只有咨询和求助可以由话务员直接答复；其他诉求请派单"))
    answer = clean_text(answer, field="answer", label=_("答复"), max_length=CONTENT_MAX)
    source = clean_text(source, field="source", label=_("答复依据"), max_length=200)
    now = timezone.now()
    from_state = move_to(
        order, WorkOrderState.CLOSED, reply=answer, answer_source=source, replied_at=now, closed_at=now
    )
    add_event(order, "answer", actor=actor, from_state=from_state, to_state=order.state, detail={"source": source})


def _merge(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, into: Any = None) -> None:
    target = WorkOrder.objects.filter(number=str(into or "")).first()
    if target is None or target.pk == order.pk:
        raise HotlineError("bad_merge_target", _("请选择要合并到的另一张工单"))
    if target.state in {WorkOrderState.MERGED}:
        raise ActionRefused("merge_target_merged", _("目标工单本身已被合并，请合并到其主工单"))
    from_state = move_to(order, WorkOrderState.MERGED, duplicate_of=target)
    add_event(order, "merge", actor=actor, from_state=from_state, to_state=order.state, detail={"into": target.number})
    add_event(
        target, "link", actor=actor, from_state=target.state, to_state=target.state, detail={"merged": order.number}
    )


def _transfer(
    order: WorkOrder,
    rule: Transition,
    *,
    actor: Any,
    kinds: set[str],
    reason: str,
    department: Any = None,
    assisting: list[str] | tuple[str, ...] = (),
) -> None:
    lead = department_by_code(department)
    if order.department_id == lead.pk:
        raise HotlineError("same_department", _("工单已在该部门办理"))
    helpers = [department_by_code(code, field="assisting") for code in dict.fromkeys(assisting)]
    finish_live_assignments(order, AssignmentState.WITHDRAWN)
    open_assignments(order, lead, helpers, start=calendar.today_local())
    from_state = move_to(
        order,
        WorkOrderState.DISPATCHED,
        department=lead,
        assignee=None,
        acknowledge_due=order.acknowledge_due,
        due=order.due,
        due_provisional=order.due_provisional,
        extension_status=order.extension_status,
        extension_days=order.extension_days,
    )
    add_event(
        order,
        "transfer",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        reason=reason,
        department=lead,
        detail={"department": lead.code, "assisting": [d.code for d in helpers]},
    )


HANDLERS: dict[str, Any] = {
    "dispatch": _dispatch,
    "answer": _answer,
    "merge": _merge,
    "transfer": _transfer,
}
