"""The applicant hears about every step that matters, once, after the change has committed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, Staff, item_code
from yiwang.accounts.models import SmsMessage
from yiwang.cases import definitions, services
from yiwang.core import notifications, outbox
from yiwang.core.models import InAppMessage, Notification, OutboxEvent

pytestmark = pytest.mark.django_db


def _run_worker() -> None:
    """One pass of what ``yiwang worker`` does, until nothing is left."""
    while outbox.process_batch("test-worker") or notifications.deliver_batch("test-worker"):
        pass


def test_each_step_that_matters_reaches_the_applicant_once_in_app_and_by_sms(citizen: Any, market: Staff) -> None:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    case = services.perform(case, "accept", actor=market.clerk)
    material = next(m for m in definitions.for_item(case.item).materials if m.required and not m.from_source)
    services.perform(
        case,
        "request_correction",
        actor=market.reviewer,
        items=[{"kind": "material", "key": material.key, "problem": "图纸不清晰"}],
    )
    _run_worker()

    subjects = list(InAppMessage.objects.filter(user=citizen).order_by("id").values_list("subject", flat=True))
    assert subjects == ["申请已收到", "申请已受理", "需要补正材料"]
    received = InAppMessage.objects.filter(user=citizen).order_by("id").first()
    assert case.number in received.body and case.verification_code in received.body
    assert received.link == f"/cases/{case.number}/"
    assert SmsMessage.objects.filter(mobile_index=citizen.person.mobile_index).count() == 3

    # Handlers run again (a worker killed after handling, before marking): nothing is sent twice.
    OutboxEvent.objects.update(processed_at=None, attempts=0)
    _run_worker()
    assert InAppMessage.objects.filter(user=citizen).count() == 3
    assert Notification.objects.filter(channel="sms").count() == 3


def test_internal_steps_do_not_notify_the_applicant(citizen: Any, market: Staff) -> None:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    case = services.perform(case, "accept", actor=market.clerk)
    _run_worker()
    before = InAppMessage.objects.count()
    services.perform(case, "request_extension", actor=market.reviewer, reason="需要现场核查", days=3)
    services.perform(case, "complete_task", actor=market.reviewer, reason="审查通过")
    _run_worker()
    assert InAppMessage.objects.count() == before


def test_a_rolled_back_action_leaves_no_event(citizen: Any, market: Staff) -> None:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    events = OutboxEvent.objects.count()
    with pytest.raises(services.CaseError):
        services.perform(case, "reject", actor=market.clerk, reason="理由", legal_basis="")
    assert OutboxEvent.objects.count() == events
