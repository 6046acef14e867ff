"""Background work of 好差评, run by ``yiwang worker`` from the outbox after each transaction commits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from yiwang.core.outbox import handles
from yiwang.feedback.services import settle_rectification
from yiwang.hotline import selectors as hotline_selectors

if TYPE_CHECKING:
    from yiwang.core.models import OutboxEvent


@handles("hotline.event")
def count_rectified(outbox_event: OutboxEvent) -> None:
    """Count a bad rating's rectification in the public share once it has come due.

    It comes due when its order first closes (on time if closed by its
    deadline) or when the order escalates still open past its deadline (late).
    An escalation for a late acknowledgement alone counts nothing yet.
    """
    payload = outbox_event.payload
    action = payload.get("action")
    closing = action == "reply" and payload.get("to") == "closed"
    if not closing and action != "escalate":
        return
    order = hotline_selectors.rectification_order(payload.get("work_order_id"))
    if order is None or order.due is None:
        return
    if closing and order.closed_at is not None:
        settle_rectification(order.pk, on_time=timezone.localdate(order.closed_at) <= order.due)
    elif not closing and order.closed_at is None and order.due < timezone.localdate():
        settle_rectification(order.pk, on_time=False)
