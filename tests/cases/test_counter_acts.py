"""A counter clerk's own official acts are theirs, not the applicant's (issue 12 item 7)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, Staff, item_code
from yiwang.cases import services
from yiwang.cases.models import CaseEvent
from yiwang.core.audit import AuditEvent

pytestmark = pytest.mark.django_db


def test_the_clerk_submits_for_the_applicant_but_accepts_and_issues_as_themself(citizen: Any, market: Staff) -> None:
    (case,) = builders.apply_at_counter(market.clerk, citizen, item_code=item_code(FOOD_LICENCE, "market"))
    submitted = CaseEvent.objects.get(case=case, action="submit")
    assert submitted.on_behalf_of == case.applicant_name

    case = services.perform(case, "accept", actor=market.clerk)
    case = services.perform(case, "complete_task", actor=market.reviewer, reason="审查通过")
    case = services.perform(case, "approve", actor=market.approver, reason="准予许可")
    case = services.perform(case, "issue_certificate", actor=market.clerk)
    for action in ("accept", "issue_certificate"):
        event = CaseEvent.objects.get(case=case, action=action)
        assert event.actor_id == market.clerk.pk
        assert event.on_behalf_of == ""
        audit = AuditEvent.objects.filter(event=f"case.{action}", target=f"cases.Case:{case.number}").get()
        assert audit.on_behalf_of_person_id is None
