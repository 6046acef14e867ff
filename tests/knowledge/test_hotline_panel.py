"""The 12345 desk reads the knowledge base: the operator sees the best entries for a work order's text."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_staff
from yiwang.accounts.constants import Role
from yiwang.hotline import services as hotline_services
from yiwang.hotline.constants import Source, WorkOrderKind

from .conftest import published

pytestmark = pytest.mark.django_db


def page_of(user: Any, number: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/hotline/desk/{number}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_operator_sees_knowledge_entries_beside_a_complaint(
    operator: Any, police_writer: Any, police_admin: Any
) -> None:
    entry = published(
        police_writer,
        police_admin,
        questions=["工地夜间施工噪音扰民怎么办", "晚上施工太吵向哪里反映"],
        answer="夜间22时至次日6时禁止产生噪声的建筑施工，确需连续施工的须取得夜间施工许可；可拨打12345反映。",
    )
    published(police_writer, police_admin, questions=["身份证丢了怎么补办"], answer="到派出所补领。")
    order = hotline_services.register(
        actor=operator,
        kind=WorkOrderKind.COMPLAINT,
        source=Source.PHONE,
        title="小区旁工地夜间施工噪音扰民",
        content="工地每天晚上十一点以后还在施工，噪音很大。",
        caller=hotline_services.CallerDetails(name="李来电", phone="13800138000"),
    )
    page = page_of(operator, order.number)
    panel = page.split('id="knowledge-reference"')[1].split("</section>")[0]
    assert "知识库参考" in page and "工地夜间施工噪音扰民怎么办" in panel
    assert f'href="/knowledge/{entry.entry_id}/"' in panel and "身份证丢了" not in panel
    # The panel only reads: no answer is offered for a complaint.
    assert 'id="action-answer"' not in page
    # A department's handler works the order itself and gets no panel.
    hotline_services.perform(order, "dispatch", actor=operator, department="housing", category="城乡建设")
    handler = make_staff(Role.REVIEWER, "housing")
    assert 'id="knowledge-reference"' not in page_of(handler, order.number)


def test_no_panel_when_nothing_matches(operator: Any) -> None:
    order = hotline_services.register(
        actor=operator,
        kind=WorkOrderKind.COMPLAINT,
        source=Source.PHONE,
        title="路灯不亮",
        content="小区门口路灯坏了一周",
        caller=hotline_services.CallerDetails(name="李来电", phone="13800138000"),
    )
    assert 'id="knowledge-reference"' not in page_of(operator, order.number)
