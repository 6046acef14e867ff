"""Outbox handlers of the e-archive: a case that reaches a final state is sealed, and so is every confirmed fee.

Both are idempotent (one package per case and per order), as outbox
handlers must be: an event handled twice finds the entry already made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yiwang.cases.constants import FINAL_CASE_STATES
from yiwang.core.outbox import handles
from yiwang.licences.services import archive

if TYPE_CHECKING:
    from yiwang.core.models import OutboxEvent

PAYMENT_CONFIRMED_ACTION = "confirm_payment"


@handles("case.event")
def seal_into_archive(outbox_event: OutboxEvent) -> None:
    """Seal the case when it reaches a final state, and the e-receipt when its payment is confirmed."""
    payload = outbox_event.payload
    case_id = payload.get("case_id")
    if not isinstance(case_id, int):
        return
    if payload.get("action") == PAYMENT_CONFIRMED_ACTION:
        archive.archive_receipts(case_id)
    if payload.get("to") in FINAL_CASE_STATES:
        archive.archive_case(case_id)
