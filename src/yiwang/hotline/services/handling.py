"""A department's work on an order: acknowledge, send back, assist, ask for more time, reply.

Handlers for :func:`yiwang.hotline.services.actions.perform`, which has checked state, actor and reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.core import calendar
from yiwang.hotline import policy
from yiwang.hotline.constants import AssignmentRole, AssignmentState, ExtensionStatus, WorkOrderKind, WorkOrderState
from yiwang.hotline.models import Assignment, WorkOrder
from yiwang.hotline.services._shared import add_event, finish_live_assignments, move_to, watch_deadline
from yiwang.hotline.services.attachments import CheckedAttachment, store_attachments
from yiwang.hotline.services.errors import ActionRefused, HotlineError, NotAllowed
from yiwang.hotline.services.rules import CONTENT_MAX, MAX_EXTENSION_DAYS, clean_text
from yiwang.hotline.workflow import Transition


def _acknowledge(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    assignment = policy.handles_for(actor, order)
    if assignment is None or assignment.state != AssignmentState.DISPATCHED:
        raise ActionRefused("already_acknowledged", _("本部门已签收该工单"))
    assignment.state = AssignmentState.HANDLING
    assignment.acknowledged_at = timezone.now()
    assignment.acknowledged_by = actor
    assignment.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
    from_state = order.state
    if assignment.role == AssignmentRole.LEAD:
        move_to(order, WorkOrderState.HANDLING)
    add_event(
        order, "acknowledge", actor=actor, from_state=from_state, to_state=order.state, department=assignment.department
    )


def _send_back(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    assignment = policy.handles_for(actor, order)
    if assignment is None:
        raise NotAllowed("not_allowed", _("您无权退回该工单"))
    assignment.state = AssignmentState.SENT_BACK
    assignment.opinion = reason
    assignment.finished_at = timezone.now()
    assignment.save(update_fields=["state", "opinion", "finished_at"])
    from_state = order.state
    if assignment.role == AssignmentRole.LEAD:
        # Back to the hotline centre for another dispatch; assisting departments stop too.
        finish_live_assignments(order, AssignmentState.WITHDRAWN)
        if order.kind == WorkOrderKind.RECTIFICATION or order.kind == WorkOrderKind.GRID:
            # No operator chose these departments: a supervisor decides where they go.
            order.supervised_at = order.supervised_at or timezone.now()
        move_to(
            order,
            WorkOrderState.REGISTERED,
            department=None,
            assignee=None,
            acknowledge_due=None,
            due=None,
            supervised_at=order.supervised_at,
        )
    add_event(
        order,
        "send_back",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        reason=reason,
        department=assignment.department,
    )


def _contribute(
    order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, opinion: str = ""
) -> None:
    assignment = policy.handles_for(actor, order)
    if assignment is None or assignment.role != AssignmentRole.ASSIST:
        raise ActionRefused("assist_only", _("协办意见由协办部门提交；主办部门请直接答复"))
    opinion = clean_text(opinion, field="opinion", label=_("协办意见"), max_length=CONTENT_MAX)
    assignment.state = AssignmentState.REPLIED
    assignment.opinion = opinion
    assignment.finished_at = timezone.now()
    assignment.acknowledged_at = assignment.acknowledged_at or assignment.finished_at
    assignment.save(update_fields=["state", "opinion", "finished_at", "acknowledged_at"])
    add_event(
        order,
        "contribute",
        actor=actor,
        from_state=order.state,
        to_state=order.state,
        department=assignment.department,
        public=False,
    )


def _request_extension(
    order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, days: Any = None
) -> None:
    assignment = policy.handles_for(actor, order)
    if assignment is None or assignment.role != AssignmentRole.LEAD:
        raise NotAllowed("lead_only", _("延期由主办部门申请"))
    if order.extension_status == ExtensionStatus.REQUESTED:
        raise ActionRefused("extension_pending", _("已有待审批的延期申请"))
    try:
        count = int(days)
    except (TypeError, ValueError) as error:
        raise HotlineError("bad_days", _("请填写延期的工作日天数"), field="days") from error
    if not 1 <= count <= MAX_EXTENSION_DAYS:
        raise HotlineError("bad_days", _("延期天数须在1到%(max)s个工作日之间") % {"max": MAX_EXTENSION_DAYS})
    move_to(
        order, order.state, extension_status=ExtensionStatus.REQUESTED, extension_days=count, extension_reason=reason
    )
    add_event(
        order,
        "request_extension",
        actor=actor,
        from_state=order.state,
        to_state=order.state,
        reason=reason,
        department=assignment.department,
        detail={"days": count},
    )


def _decide_extension(
    order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, approve: Any = None
) -> None:
    if order.extension_status != ExtensionStatus.REQUESTED:
        raise ActionRefused("no_extension_request", _("没有待审批的延期申请"))
    approved = approve in (True, "true", "1", "yes", "on")
    fields: dict[str, Any] = {"extension_status": ExtensionStatus.APPROVED if approved else ExtensionStatus.REFUSED}
    if approved and order.due is not None:
        extended = calendar.extend(order.due, order.extension_days)
        fields.update(due=extended.date, due_provisional=order.due_provisional or extended.provisional)
        watch_deadline(order, extended.date)
    move_to(order, order.state, **fields)
    add_event(
        order,
        "decide_extension",
        actor=actor,
        from_state=order.state,
        to_state=order.state,
        reason=reason,
        detail={"approved": approved, "days": order.extension_days, "due": str(order.due)},
    )


def _reply(
    order: WorkOrder,
    rule: Transition,
    *,
    actor: Any,
    kinds: set[str],
    reason: str,
    reply: str = "",
    attachments: Sequence[CheckedAttachment] = (),
) -> None:
    assignment = policy.handles_for(actor, order)
    if assignment is None or assignment.role != AssignmentRole.LEAD:
        raise ActionRefused("lead_replies", _("答复由主办部门作出；协办部门请提交协办意见"))
    reply = clean_text(reply, field="reply", label=_("答复意见"), max_length=CONTENT_MAX)
    rectification = order.kind == WorkOrderKind.RECTIFICATION
    if rectification and order.called_back_at is None:
        raise ActionRefused("callback_first", _("差评整改须先回访评价人，再提交整改报告"))
    now = timezone.now()
    assignment.state = AssignmentState.REPLIED
    assignment.opinion = reply
    assignment.finished_at = now
    assignment.save(update_fields=["state", "opinion", "finished_at"])
    stored = store_attachments(order, attachments, actor=actor)
    if rectification:
        # The report closes it: nobody at the hotline reviews a department's own rectification.
        from_state = move_to(order, WorkOrderState.CLOSED, reply=reply, replied_at=now, closed_at=now)
    else:
        from_state = move_to(order, WorkOrderState.REPLIED, reply=reply, replied_at=now)
    add_event(
        order,
        "reply",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        department=assignment.department,
        detail={"attachments": len(stored)} if stored else None,
    )


def _return_reply(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    Assignment.objects.filter(
        work_order=order, role=AssignmentRole.LEAD, department=order.department, state=AssignmentState.REPLIED
    ).update(state=AssignmentState.HANDLING, finished_at=None)
    from_state = move_to(order, WorkOrderState.HANDLING, replied_at=None)
    add_event(order, "return_reply", actor=actor, from_state=from_state, to_state=order.state, reason=reason)


HANDLERS: dict[str, Any] = {
    "acknowledge": _acknowledge,
    "send_back": _send_back,
    "contribute": _contribute,
    "request_extension": _request_extension,
    "decide_extension": _decide_extension,
    "reply": _reply,
    "return_reply": _return_reply,
}
