"""Escalating orders past their acknowledgement or handling deadline to supervisors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from yiwang.core import calendar
from yiwang.hotline.constants import WorkOrderState
from yiwang.hotline.models import WorkOrder
from yiwang.hotline.services.actions import perform


def escalate_if_late(order_id: Any, *, today: dt.date | None = None) -> bool:
    """Escalate one open order to supervisors if it is past its handling or acknowledgement deadline.

    Run by the worker for the delayed ``hotline.deadline`` event each deadline
    schedules; an order escalates once. Returns whether it escalated now.
    """
    today = today or calendar.today_local()
    order = WorkOrder.objects.filter(pk=order_id, escalated_at__isnull=True).first()
    if order is None:
        return False
    open_states = {WorkOrderState.DISPATCHED, WorkOrderState.HANDLING}
    late = order.state in open_states and order.due is not None and order.due < today
    late_acknowledgement = (
        order.state == WorkOrderState.DISPATCHED and order.acknowledge_due is not None and order.acknowledge_due < today
    )
    if not (late or late_acknowledgement):
        return False
    perform(order.number, "escalate", actor=None, reason=_("超过办理或签收期限"))
    return True


def escalate_overdue(*, today: dt.date | None = None) -> int:
    """Escalate every open order past a deadline (a catch-up sweep beside the per-order events); returns how many."""
    today = today or calendar.today_local()
    candidates = WorkOrder.objects.filter(
        state__in=[WorkOrderState.DISPATCHED, WorkOrderState.HANDLING], escalated_at__isnull=True
    ).filter(Q(due__lt=today) | Q(acknowledge_due__lt=today))
    return sum(escalate_if_late(pk, today=today) for pk in candidates.order_by("pk").values_list("pk", flat=True))
