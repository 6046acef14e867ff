"""Who sees which task in the workbench queue (issue 12 item 7): the stage's owner, and approvers what waits on them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.accounts.factories import make_staff
from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, Staff, item_code
from yiwang.accounts.constants import Role
from yiwang.cases import selectors, services
from yiwang.cases.constants import CaseState, StepKind
from yiwang.cases.models import Case

pytestmark = pytest.mark.django_db


def _food(citizen: Any) -> Case:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    return case


def _numbers(user: Any) -> set[str]:
    return {task.case.number for task in selectors.workbench(user)}


def test_certificate_tasks_reach_the_clerks_not_the_reviewers_who_could_not_issue(citizen: Any, market: Staff) -> None:
    case = services.perform(_food(citizen), "accept", actor=market.clerk)
    case = services.perform(case, "complete_task", actor=market.reviewer, reason="审查通过")
    case = services.perform(case, "approve", actor=market.approver, reason="准予许可")
    assert case.state == CaseState.ISSUING
    assert {task.kind for task in selectors.workbench(market.clerk) if task.case_id == case.pk} == {
        StepKind.CERTIFICATE
    }
    assert case.number not in _numbers(market.reviewer)
    services.perform(case, "issue_certificate", actor=market.clerk)


def test_reviewers_still_see_acceptance_tasks_they_may_accept(citizen: Any, market: Staff) -> None:
    case = _food(citizen)
    assert case.number in _numbers(market.reviewer)
    services.perform(case, "accept", actor=market.reviewer)


def test_approvers_see_suspended_cases_and_extension_requests_they_alone_can_move(
    citizen: Any, other_citizen: Any, market: Staff
) -> None:
    suspended = services.perform(_food(citizen), "accept", actor=market.clerk)
    assert suspended.number not in _numbers(market.approver)  # a review task: the reviewer's
    suspended = services.perform(suspended, "suspend", actor=market.approver, reason="需要专家评审")
    assert suspended.number in _numbers(market.approver)

    extended = services.perform(_food(other_citizen), "accept", actor=market.clerk)
    services.perform(extended, "request_extension", actor=market.reviewer, reason="情形复杂", days=5)
    assert extended.number in _numbers(market.approver)
    assert len([t for t in selectors.workbench(market.approver) if t.case_id == extended.pk]) == 1

    police_approver = make_staff(Role.APPROVER, "police")
    assert _numbers(police_approver) == set()
