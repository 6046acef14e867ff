"""Background work of the hotline, run by ``yiwang worker`` from the outbox after each transaction commits.

Handlers are idempotent: each notification's dedupe key names the work
order event, the recipient and the channel, so a handler run twice queues
nothing new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts.constants import Role
from yiwang.core import notifications
from yiwang.core.outbox import handles
from yiwang.hotline import policy, services
from yiwang.hotline.models import WorkOrderEvent

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from yiwang.core.models import OutboxEvent

NOTIFICATION_LANGUAGE = "zh-hans"

# To the department (its handlers, or the grid worker): new work and pressure on it.
FOR_DEPARTMENT: dict[str, tuple[StrOrPromise, StrOrPromise]] = {
    "dispatch": (_("新派工单"), _("工单{number}“{title}”已派至本部门，请在{acknowledge_due}前签收。")),
    "transfer": (_("转办工单"), _("工单{number}“{title}”已转至本部门，请在{acknowledge_due}前签收。")),
    "reopen": (_("工单重新办理"), _("工单{number}“{title}”回访不满意，已退回本部门重新办理。")),
    "return_reply": (_("答复被退回"), _("工单{number}“{title}”的答复未通过审核，请重新办理。")),
    "supervise": (_("督办通知"), _("工单{number}“{title}”被督办，请加快办理（期限{due}）。")),
    "escalate": (_("工单超期"), _("工单{number}“{title}”已超过期限{due}，已报监督人员。")),
}
# To the caller: what they are waiting for.
FOR_CALLER: dict[str, tuple[StrOrPromise, StrOrPromise]] = {
    "register": (_("诉求已登记"), _("您的诉求“{title}”已登记，工单编号{number}，查询码{code}。")),
    "answer": (_("诉求已答复"), _("您的诉求“{title}”（{number}）已答复，请查看答复内容。")),
    "reply": (_("诉求已答复"), _("您的诉求“{title}”（{number}）承办部门已答复，请查看。")),
    "close": (_("诉求已办结"), _("您的诉求“{title}”（{number}）已办结，我们将回访您的意见。")),
}


def _fill(template: str, event: WorkOrderEvent) -> str:
    order = event.work_order
    return template.format(
        number=order.number,
        title=order.title[:40],
        code=order.verification_code,
        acknowledge_due=order.acknowledge_due or "—",
        due=order.due or "—",
    )


def _send(event: WorkOrderEvent, user_ids: list[int], message: tuple[StrOrPromise, StrOrPromise], link: str) -> None:
    with translation.override(NOTIFICATION_LANGUAGE):
        subject, body = str(message[0]), _fill(str(message[1]), event)
    for user_id in user_ids:
        notifications.notify(
            dedupe_key=f"work-order-event:{event.pk}:user:{user_id}",
            template=f"hotline.{event.action}",
            subject=subject,
            body=body,
            link=link,
            user_id=user_id,
            channels=("in_app",),
        )


@handles("hotline.event")
def notify_people(outbox_event: OutboxEvent) -> None:
    """Tell the department about new work and pressure on it, and the caller about answers."""
    payload = outbox_event.payload
    event = WorkOrderEvent.objects.select_related("work_order").filter(pk=payload.get("event_id")).first()
    if event is None:
        return
    order = event.work_order
    action = event.action
    if action in FOR_DEPARTMENT and order.department_id is not None:
        recipients = set(accounts_selectors.staff_holding(policy.HANDLER_ROLES, department_id=order.department_id))
        if order.assignee_id is not None:
            recipients.add(order.assignee_id)
        if action == "escalate":
            recipients.update(accounts_selectors.staff_holding({Role.SUPERVISOR}, department_id=None))
        _send(event, sorted(recipients), FOR_DEPARTMENT[action], f"/hotline/desk/{order.number}/")
    if action in FOR_CALLER and order.caller_user_id is not None and order.kind != "rectification":
        _send(event, [order.caller_user_id], FOR_CALLER[action], f"/hotline/mine/{order.number}/")


@handles("hotline.deadline")
def escalate_when_late(outbox_event: OutboxEvent) -> None:
    """The morning after a deadline: escalate the order if it is still not acknowledged or answered."""
    services.escalate_if_late(outbox_event.payload.get("work_order_id"))
