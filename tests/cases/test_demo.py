"""`make run` shows a case in every state, made through the real services."""

from __future__ import annotations

import pytest

from yiwang.accounts.demo import create_demo_accounts
from yiwang.cases.constants import CaseState
from yiwang.cases.demo import create_demo_cases
from yiwang.cases.models import Case

pytestmark = pytest.mark.django_db


def test_demo_cases_cover_every_state_once() -> None:
    create_demo_accounts()

    made = create_demo_cases()

    assert len(made) == len(CaseState)
    assert set(Case.objects.values_list("state", flat=True)) == set(CaseState)
    assert Case.objects.get(state=CaseState.AWAITING_PAYMENT).payments.get().status == "pending"
    assert Case.objects.get(state=CaseState.CORRECTION_REQUESTED).corrections.get().resolved_at is None
    # Seeding again leaves them alone.
    assert create_demo_cases() == []
    assert Case.objects.count() == len(CaseState)
