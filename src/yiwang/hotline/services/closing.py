"""After the reply: closing, the callback (回访), the rater's confirmation, reopening, supervision, escalation.

Handlers for :func:`yiwang.hotline.services.actions.perform`, which has checked state, actor and reason.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.core import calendar
from yiwang.hotline.constants import AssignmentState, Satisfaction, WorkOrderKind, WorkOrderState
from yiwang.hotline.models import WorkOrder
from yiwang.hotline.services._shared import add_event, finish_live_assignments, move_to, open_assignments
from yiwang.hotline.services.errors import ActionRefused, HotlineError, NotAllowed
from yiwang.hotline.services.rules import MAX_REOPENS, REASON_MAX, clean_text, limits_for
from yiwang.hotline.workflow import Actor, Transition


def _record_callback(
    order: WorkOrder,
    rule: Transition,
    *,
    actor: Any,
    kinds: set[str],
    reason: str,
    satisfaction: str = "",
    note: str = "",
) -> None:
    rectification = order.kind == WorkOrderKind.RECTIFICATION
    if order.state == WorkOrderState.HANDLING:
        # Only a rectification is called back before its report: the department calls the rater.
        if not rectification or Actor.DEPARTMENT not in kinds:
            raise ActionRefused("callback_after_close", _("回访在工单办结后进行"))
    elif Actor.OPERATOR not in kinds:
        raise NotAllowed("operators_call_back", _("办结后的回访由12345话务员进行"))
    if satisfaction not in Satisfaction.values:
        raise HotlineError("bad_satisfaction", _("请选择回访评价：满意、基本满意或不满意"), field="satisfaction")
    note = clean_text(note, field="note", label=_("回访记录"), max_length=REASON_MAX)
    now = timezone.now()
    from_state = order.state
    if order.state == WorkOrderState.HANDLING:
        move_to(order, order.state, called_back_at=now, satisfaction=satisfaction, callback_note=note)
    elif satisfaction == Satisfaction.UNSATISFIED and order.reopen_count < MAX_REOPENS and order.department_id:
        # Not satisfied: the same department handles it again, on a fresh clock.
        add_event(
            order,
            "record_callback",
            actor=actor,
            from_state=from_state,
            to_state=from_state,
            detail={"satisfaction": satisfaction},
        )
        _reopen(order, actor=actor, reason=note)
        return
    else:
        move_to(order, WorkOrderState.CALLED_BACK, called_back_at=now, satisfaction=satisfaction, callback_note=note)
    add_event(
        order,
        "record_callback",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        detail={"satisfaction": satisfaction},
    )


def _reopen(order: WorkOrder, *, actor: Any, reason: str) -> None:
    department = order.department
    assert department is not None
    finish_live_assignments(order, AssignmentState.WITHDRAWN)
    open_assignments(order, department, [], start=calendar.today_local())
    from_state = move_to(
        order,
        WorkOrderState.DISPATCHED,
        reopen_count=order.reopen_count + 1,
        acknowledge_due=order.acknowledge_due,
        due=order.due,
        due_provisional=order.due_provisional,
        extension_status=order.extension_status,
        extension_days=order.extension_days,
        called_back_at=None,
        satisfaction="",
        closed_at=None,
        replied_at=None,
    )
    add_event(
        order, "reopen", actor=actor, from_state=from_state, to_state=order.state, reason=reason, department=department
    )


def _close(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    limits = limits_for(order.kind)
    fields: dict[str, Any] = {"closed_at": timezone.now()}
    if limits.callback_required:
        fields["callback_due"] = calendar.add_working_days(calendar.today_local(), limits.callback_days).date
    from_state = move_to(order, WorkOrderState.CLOSED, **fields)
    add_event(order, "close", actor=actor, from_state=from_state, to_state=order.state, reason=reason)


def _confirm(
    order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, resolved: Any = None
) -> None:
    if order.kind != WorkOrderKind.RECTIFICATION:
        raise ActionRefused("confirm_rectification_only", _("只有差评整改工单由评价人确认结果"))
    is_resolved = resolved in (True, "true", "1", "yes", "on")
    from_state = order.state
    if not is_resolved and order.reopen_count < MAX_REOPENS and order.department_id:
        add_event(order, "confirm", actor=actor, from_state=from_state, to_state=from_state, reason=reason)
        _reopen(order, actor=actor, reason=reason)
        return
    move_to(order, WorkOrderState.CALLED_BACK)
    add_event(
        order,
        "confirm",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        reason=reason,
        detail={"resolved": is_resolved},
    )


def _supervise(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    move_to(order, order.state, supervised_at=timezone.now())
    add_event(order, "supervise", actor=actor, from_state=order.state, to_state=order.state, reason=reason)


def _escalate(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    if order.escalated_at is not None:
        return
    move_to(order, order.state, escalated_at=timezone.now())
    add_event(order, "escalate", actor=actor, from_state=order.state, to_state=order.state, reason=reason, public=False)


HANDLERS: dict[str, Any] = {
    "record_callback": _record_callback,
    "close": _close,
    "confirm": _confirm,
    "supervise": _supervise,
    "escalate": _escalate,
}
