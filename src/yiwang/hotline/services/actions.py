"""The one door that changes a work order's state: :func:`perform`.

The transition table in :mod:`yiwang.hotline.workflow` decides which action
is legal from which state and for whom; the handlers live by concern in
:mod:`~yiwang.hotline.services.dispatch`, :mod:`~yiwang.hotline.services.handling`
and :mod:`~yiwang.hotline.services.closing`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from yiwang.hotline import policy
from yiwang.hotline.models import WorkOrder
from yiwang.hotline.services import closing, dispatch, handling
from yiwang.hotline.services.attachments import ATTACHMENT_ACTIONS, check_attachments
from yiwang.hotline.services.errors import ActionRefused, HotlineError, NotAllowed, WorkOrderNotFound
from yiwang.hotline.services.rules import REASON_MAX, clean_text
from yiwang.hotline.workflow import transition

_HANDLERS: dict[str, Any] = {**dispatch.HANDLERS, **handling.HANDLERS, **closing.HANDLERS}


def get_order(number_or_order: WorkOrder | str, *, lock: bool = False) -> WorkOrder:
    number = number_or_order.number if isinstance(number_or_order, WorkOrder) else number_or_order
    orders = WorkOrder.objects.select_related("department", "grid_cell")
    if lock:
        orders = orders.select_for_update(of=("self",))
    order = orders.filter(number=number).first()
    if order is None:
        raise WorkOrderNotFound("not_found", _("工单不存在"))
    return order


def perform(
    order_or_number: WorkOrder | str,
    action: str,
    *,
    actor: Any,
    expected_version: int | None = None,
    reason: str = "",
    **params: Any,
) -> WorkOrder:
    """Take ``action`` on a work order as ``actor`` (None: the platform itself).

    Refused, with nothing written, when the action is unknown, not allowed
    from the order's state, not allowed to this actor, lacks a reason it
    needs, or when ``expected_version`` is given and someone else acted
    first (optimistic concurrency: two officials never silently overwrite
    each other).
    """
    rule = transition(action)
    if rule is None:
        raise HotlineError("unknown_action", _("未知的操作"))
    files = params.pop("attachments", None)
    if files:
        if action not in ATTACHMENT_ACTIONS:
            raise HotlineError(
                "attachments_not_accepted", _("“%(action)s”不能附带文件") % {"action": rule.label}, field="attachments"
            )
        # Checked before the order is locked: reading and scanning files takes a while.
        params["attachments"] = check_attachments(files, actor=actor)
    with transaction.atomic():
        order = get_order(order_or_number, lock=True)
        kinds = policy.actor_kinds(actor, order)
        if not kinds & rule.actors:
            if not policy.can_view(actor, order) and actor is not None:
                raise WorkOrderNotFound("not_found", _("工单不存在"))
            raise NotAllowed("not_allowed", _("您无权对该工单执行“%(action)s”") % {"action": rule.label})
        if order.state not in rule.sources:
            raise ActionRefused(
                "illegal_transition",
                _("工单当前状态为“%(state)s”，不能执行“%(action)s”")
                % {"state": order.get_state_display(), "action": rule.label},
            )
        if expected_version is not None and expected_version != order.version:
            raise ActionRefused("stale_version", _("工单已被他人处理，请刷新后重试"))
        reason = clean_text(reason, field="reason", label=_("理由"), max_length=REASON_MAX, required=rule.needs_reason)
        handler = _HANDLERS[action]
        handler(order, rule, actor=actor, kinds=kinds, reason=reason, **params)
        WorkOrder.objects.filter(pk=order.pk).update(version=F("version") + 1)
        order.version += 1
    return order
