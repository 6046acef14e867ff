"""Outbox handlers of the e-archive: a case that reaches a final state is sealed, and so is every confirmed fee.

The ``case.event`` handler only publishes an event of the archive's own
(``archive.seal_case`` / ``archive.seal_receipts``): all handlers of one
event share a transaction, so sealing in it would let a damaged archive
hold back the applicant's notifications. Sealing then runs, and retries,
on its own. Both sealers are idempotent (one package per case and per
order), as outbox handlers must be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yiwang.cases.constants import FINAL_CASE_STATES
from yiwang.core import outbox
from yiwang.core.outbox import handles
from yiwang.licences.services import archive

if TYPE_CHECKING:
    from yiwang.core.models import OutboxEvent

PAYMENT_CONFIRMED_ACTION = "confirm_payment"
SEAL_CASE = "archive.seal_case"
SEAL_RECEIPTS = "archive.seal_receipts"


@handles("case.event")
def schedule_sealing(outbox_event: OutboxEvent) -> None:
    """Ask for the case to be sealed when it reaches a final state, and its e-receipt when payment is confirmed."""
    payload = outbox_event.payload
    case_id = payload.get("case_id")
    if not isinstance(case_id, int):
        return
    if payload.get("action") == PAYMENT_CONFIRMED_ACTION:
        outbox.publish(SEAL_RECEIPTS, {"case_id": case_id})
    if payload.get("to") in FINAL_CASE_STATES:
        outbox.publish(SEAL_CASE, {"case_id": case_id})


@handles(SEAL_CASE)
def seal_case(outbox_event: OutboxEvent) -> None:
    case_id = outbox_event.payload.get("case_id")
    if isinstance(case_id, int):
        archive.archive_case(case_id)


@handles(SEAL_RECEIPTS)
def seal_receipts(outbox_event: OutboxEvent) -> None:
    case_id = outbox_event.payload.get("case_id")
    if isinstance(case_id, int):
        archive.archive_receipts(case_id)
