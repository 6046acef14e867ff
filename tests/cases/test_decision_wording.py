"""Decisions are named by the kind of item (issue 12 item 7): only 行政许可 gets 准予行政许可决定书 and 准予许可."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client

from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, Staff, item_code
from yiwang.cases import services
from yiwang.cases.models import Case
from yiwang.catalog.constants import ItemKind
from yiwang.catalog.models import ServiceItem

pytestmark = pytest.mark.django_db


def _text(user: Any, url: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return html.unescape(response.content.decode())


def _decision_stage(citizen: Any, market: Staff, kind: str) -> Case:
    code = item_code(FOOD_LICENCE, "market")
    ServiceItem.objects.filter(code=code).update(kind=kind)
    (case,) = builders.apply(citizen, item_code=code)
    case = services.perform(case, "accept", actor=market.clerk)
    return services.perform(case, "complete_task", actor=market.reviewer, reason="符合要求")


@pytest.mark.parametrize(
    ("kind", "approve", "title", "phrase"),
    [
        (ItemKind.CONFIRMATION, "予以确认", "予以确认决定书", "决定予以确认"),
        (ItemKind.PAYMENT, "准予给付", "准予给付决定书", "决定准予给付"),
        (ItemKind.PUBLIC_SERVICE, "同意办理", "办理结果通知书", "决定予以办理"),
    ],
)
def test_non_licensing_items_get_their_own_buttons_and_documents(
    citizen: Any, market: Staff, kind: str, approve: str, title: str, phrase: str
) -> None:
    case = _decision_stage(citizen, market, kind)
    page = _text(market.approver, f"/workbench/cases/{case.number}/")
    assert approve in page
    assert "准予许可" not in page and "不予许可" not in page
    services.perform(case, "approve", actor=market.approver, reason="符合条件")
    document = _text(citizen, f"/cases/{case.number}/print/decision/")
    assert title in document and phrase in document
    assert "行政许可" not in document
    timeline = _text(citizen, f"/cases/{case.number}/")
    assert approve in timeline and "准予许可" not in timeline


def test_a_refused_confirmation_is_not_a_licensing_refusal(citizen: Any, market: Staff) -> None:
    case = _decision_stage(citizen, market, ItemKind.CONFIRMATION)
    services.perform(case, "refuse", actor=market.approver, reason="不符合条件", legal_basis="《某条例》第三条")
    document = _text(citizen, f"/cases/{case.number}/print/decision/")
    assert "不予确认决定书" in document and "决定不予确认" in document
    assert "行政许可" not in document


def test_licensing_items_keep_the_licensing_decision(citizen: Any, market: Staff) -> None:
    case = _decision_stage(citizen, market, ItemKind.LICENSING)
    assert "准予许可" in _text(market.approver, f"/workbench/cases/{case.number}/")
    services.perform(case, "approve", actor=market.approver, reason="符合条件")
    assert "准予行政许可决定书" in _text(citizen, f"/cases/{case.number}/print/decision/")


def test_the_applicant_hears_the_decision_in_the_items_words(citizen: Any, market: Staff) -> None:
    from yiwang.core import notifications, outbox
    from yiwang.core.models import InAppMessage

    case = _decision_stage(citizen, market, ItemKind.CONFIRMATION)
    services.perform(case, "approve", actor=market.approver, reason="符合条件")
    while outbox.process_batch("test-worker") or notifications.deliver_batch("test-worker"):
        pass
    last = InAppMessage.objects.filter(user=citizen).order_by("-id").first()
    assert last is not None and case.number in last.body
    assert "决定予以确认" in last.body and "准予许可" not in last.body
