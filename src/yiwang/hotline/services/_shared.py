"""Steps several hotline services share (internal): numbers, labels, the timeline event, state moves, assignments.

Nothing outside :mod:`yiwang.hotline.services` imports this module.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.core import calendar, numbering, outbox
from yiwang.core.audit import record_event
from yiwang.directory import selectors as directory_selectors
from yiwang.hotline import policy
from yiwang.hotline.constants import AssignmentRole, ExtensionStatus
from yiwang.hotline.models import Assignment, WorkOrder, WorkOrderEvent, WorkOrderSequence
from yiwang.hotline.services.errors import HotlineError
from yiwang.hotline.services.rules import SYSTEM_ACTOR_LABEL, limits_for

if TYPE_CHECKING:
    from yiwang.directory.models import Department


_PHONE = re.compile(r"\A(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{7,8})\Z")


def clean_phone(phone: str) -> str:
    digits = re.sub(r"[\s()（）]", "", phone or "")
    if digits and not _PHONE.match(digits):
        raise HotlineError("bad_phone", _("联系电话格式不正确"), field="phone")
    return digits


def clean_point(longitude: Any, latitude: Any) -> tuple[Decimal | None, Decimal | None]:
    if longitude in (None, "") and latitude in (None, ""):
        return None, None
    try:
        lon, lat = Decimal(str(longitude)), Decimal(str(latitude))
    except (InvalidOperation, ValueError) as error:
        raise HotlineError("bad_location", _("位置坐标不正确")) from error
    if not lon.is_finite() or not lat.is_finite() or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise HotlineError("bad_location", _("位置坐标不正确"))
    return lon.quantize(Decimal("0.000001")), lat.quantize(Decimal("0.000001"))


def next_number(day: dt.date) -> str:
    """``12345-<YYYYMMDD>-<6-digit serial>``: the serial restarts each day (Asia/Shanghai)."""
    serial = numbering.next_value(WorkOrderSequence, {"day": day})
    return f"12345-{day:%Y%m%d}-{serial:06d}"


def actor_label(user: Any) -> str:
    if user is None:
        return _(SYSTEM_ACTOR_LABEL)
    return str(getattr(user, "display_name", "") or user.get_username())


def add_event(
    order: WorkOrder,
    action: str,
    *,
    actor: Any,
    from_state: str,
    to_state: str,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
    department: Department | None = None,
    public: bool = True,
) -> WorkOrderEvent:
    event = WorkOrderEvent.objects.create(
        work_order=order,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        actor_label=actor_label(actor),
        department=department,
        reason=reason,
        detail=dict(detail or {}),
        public=public,
    )
    record_event(
        f"hotline.{action}",
        actor=actor,
        target=f"hotline.WorkOrder:{order.number}",
        detail={"from": from_state, "to": to_state, **({"reason": reason[:200]} if reason else {})},
    )
    outbox.publish(
        "hotline.event",
        {"work_order_id": order.pk, "event_id": event.pk, "action": action, "from": from_state, "to": to_state},
    )
    return event


def move_to(order: WorkOrder, to_state: str, **fields: Any) -> str:
    from_state = order.state
    order.state = to_state
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["state", "updated_at", *fields])
    return from_state


def department_by_code(code: Any, *, field: str = "department") -> Department:
    department = directory_selectors.department_by_code(str(code or ""))
    if department is None:
        raise HotlineError("unknown_department", _("部门不存在：%(code)s") % {"code": code or "—"}, field=field)
    return department


def open_assignments(order: WorkOrder, lead: Department, assisting: list[Department], *, start: dt.date) -> None:
    limits = limits_for(order.kind)
    acknowledge = calendar.add_working_days(start, limits.acknowledge_days)
    handle = calendar.add_working_days(start, limits.handle_days)
    order.department = lead
    order.acknowledge_due = acknowledge.date
    order.due = handle.date
    order.due_provisional = acknowledge.provisional or handle.provisional
    order.extension_status = ExtensionStatus.NONE
    order.extension_days = 0
    watch_deadline(order, order.acknowledge_due)
    watch_deadline(order, order.due)
    Assignment.objects.create(work_order=order, department=lead, role=AssignmentRole.LEAD)
    for department in assisting:
        if department.pk != lead.pk:
            Assignment.objects.create(work_order=order, department=department, role=AssignmentRole.ASSIST)


def watch_deadline(order: WorkOrder, deadline: dt.date | None) -> None:
    # Nobody has to run a sweep for orders to escalate: a delayed outbox event looks at the order
    # the morning after its deadline (see escalate_if_late), in the same transaction as the deadline.
    if deadline is None:
        return
    check_at = timezone.make_aware(dt.datetime.combine(deadline + dt.timedelta(days=1), dt.time.min))
    outbox.publish(
        "hotline.deadline",
        {"work_order_id": order.pk, "deadline": deadline.isoformat()},
        delay=max(check_at - timezone.now(), dt.timedelta(0)),
    )


def finish_live_assignments(order: WorkOrder, state: str) -> None:
    Assignment.objects.filter(work_order=order, state__in=policy.LIVE_ASSIGNMENT_STATES).update(
        state=state, finished_at=timezone.now()
    )
