"""A caller's full telephone number for the staff who hold the order: 回访 and clarifying calls (docs/adr/0011).

The hotline decides whether the read is justified (an open order at the
staff member's desk or assignment, the caller not hidden from them); accounts
counts, limits and records it, in the caller's "谁查看了我的信息" list when
the caller has an account. A missing order and one the staff member may not
read from answer the same 404.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts import services as accounts_services
from yiwang.accounts.constants import RevealPurpose
from yiwang.core import crypto
from yiwang.core.audit import record_event
from yiwang.hotline import policy
from yiwang.hotline.models import WorkOrder
from yiwang.hotline.services.errors import HotlineError, WorkOrderNotFound

ORDER_REVEAL_PURPOSES = (RevealPurpose.CALLBACK, RevealPurpose.CONTACT_CALLER)


def reveal_caller_phone(*, actor: Any, number: str, purpose: str) -> str:
    """The caller's full telephone number for an operator or handling department holding the open order.

    Recorded and rate-limited by accounts; 404 for anyone else, 429 beyond
    the hourly limit, ``no_phone`` (409) when the caller left no number.
    """
    order = (
        WorkOrder.objects.select_related("department")
        .prefetch_related("assignments__department")
        .filter(number=number)
        .first()
    )
    desk = policy.reveal_desk(actor, order) if order is not None else None
    if order is None or desk is None:
        record_event(
            "permission.denied",
            actor=actor if getattr(actor, "pk", None) else None,
            target=f"hotline.WorkOrder:{number[:32]}",
            detail={"action": "pii.read"},
        )
        raise WorkOrderNotFound("not_found", _("工单不存在"))
    if purpose not in ORDER_REVEAL_PURPOSES:
        raise HotlineError("invalid_purpose", _("请从列表中选择查看用途"), field="purpose")
    justification = accounts_services.RevealJustification(
        person_id=order.caller_person_id,
        reference=order.number,
        department_name=desk.department.name
        if not isinstance(desk, str)
        else accounts_policy.primary_department_name(actor),
        purpose=purpose,
    )
    if order.caller_phone_encrypted:
        phone: list[str] = []
        accounts_services.record_reveal(
            actor=actor,
            justification=justification,
            fields=["mobile"],
            read=lambda: phone.append(crypto.decrypt(order.caller_phone_encrypted)),
        )
        return phone[0]
    if order.caller_person_id is not None:
        values = accounts_services.reveal_person_data(actor=actor, justification=justification, fields=["mobile"])
        if values.get("mobile"):
            return values["mobile"]
    raise HotlineError("no_phone", _("来电人没有留下联系电话，请通过站内消息联系"), status=409)
