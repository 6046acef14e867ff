"""Outbox handlers of the licences app: licences and sealed case documents from case events, the 六减 record,
expiry.

Every handler is idempotent: issuance finds the licence by its issuance key, a
sealed document is unique per case, kind and sequence,
savings are unique per case and material, reminders are deduplicated per
licence, and expiry changes a licence once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yiwang.cases import selectors as cases_selectors
from yiwang.core.outbox import handles
from yiwang.licences import selectors
from yiwang.licences.services import case_documents, issuance, wallet

if TYPE_CHECKING:
    from yiwang.core.models import OutboxEvent

# The case actions after which licences are issued: the certificate stage (制证) completed.
ISSUING_ACTIONS = frozenset({"issue_certificate"})


@handles("case.event")
def issue_on_certificate(event: OutboxEvent) -> None:
    """制证 done: issue the licences the case's item issues; submitted: record the materials the wallet saved."""
    action = event.payload.get("action", "")
    case_id = event.payload.get("case_id")
    if not isinstance(case_id, int):
        return
    if action == "submit":
        wallet.record_savings(case_id)
        return
    if action not in ISSUING_ACTIONS:
        return
    case = cases_selectors.case_by_id(case_id)
    if case is None:
        return
    licences = issuance.issue_for_case(case=case, event_id=int(event.payload.get("event_id") or 0))
    if licences or selectors.decision_of(case.number) is None:
        case_documents.seal_case_document(case=case, kind="decision", licences=licences)


@handles("case.event")
def seal_case_document(event: OutboxEvent) -> None:
    """受理, 不予受理, 补正 and a decision that issues no licence: the document it makes, sealed (once).

    In the case event's own transaction, like issuance, so that the archive
    package (sealed by a later event) always holds the document of the action
    that closed the case.
    """
    action = event.payload.get("action", "")
    case_id = event.payload.get("case_id")
    if not isinstance(case_id, int) or action not in case_documents.EVENT_ACTIONS:
        return
    case = cases_selectors.case_by_id(case_id)
    if case is not None:
        case_documents.seal_for_event(case=case, action=action, event_id=int(event.payload.get("event_id") or 0))


@handles(issuance.REMINDER_TOPIC)
def remind_expiry(event: OutboxEvent) -> None:
    licence_id = event.payload.get("licence_id")
    if isinstance(licence_id, int):
        wallet.remind_expiry(licence_id)


@handles(issuance.EXPIRY_TOPIC)
def expire(event: OutboxEvent) -> None:
    licence_id = event.payload.get("licence_id")
    if isinstance(licence_id, int):
        issuance.expire_licence(licence_id)
