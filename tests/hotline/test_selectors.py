"""Reads over work orders: possible duplicates of a new order, and hot issues."""

from __future__ import annotations

from typing import Any

import pytest

from yiwang.hotline import selectors, services
from yiwang.hotline.constants import Source, WorkOrderKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules", "no_model")]


def complaint(operator: Any, title: str, content: str) -> Any:
    return services.register(
        actor=operator,
        kind=WorkOrderKind.COMPLAINT,
        source=Source.PHONE,
        title=title,
        content=content,
        caller=services.CallerDetails(name="李", phone="13800138000"),
    )


def test_a_second_call_about_the_same_problem_finds_the_first(operator: Any) -> None:
    first = complaint(
        operator, "A市丽发新城小区旁搅拌站噪音扰民", "丽发新城小区旁的搅拌站每天夜里作业，噪音和粉尘很大。"
    )
    other_place = complaint(operator, "A市金桥小区旁搅拌站噪音扰民", "金桥小区旁的搅拌站每天夜里作业，噪音很大。")
    second = complaint(
        operator, "丽发新城小区搅拌站夜间噪音", "A市丽发新城小区附近搅拌站夜间施工，噪音粉尘严重，影响休息。"
    )
    found = selectors.possible_duplicates(second)
    numbers = [order.number for order, _match in found]
    assert numbers and numbers[0] == first.number
    assert other_place.number not in numbers
    assert found[0][1].reason
    services.perform(first, "merge", actor=operator, into=other_place.number)
    assert first.number not in [o.number for o, _m in selectors.possible_duplicates(second)]  # merged ones drop out


def test_hot_issues_group_repeated_complaints(operator: Any) -> None:
    for n in range(4):
        complaint(operator, f"丽发新城小区搅拌站噪音{n}", "A市丽发新城小区附近搅拌站夜间施工噪音严重，影响居民休息。")
    complaint(operator, "公交车司机态度差", "5路公交车司机不等乘客坐稳就开车。")
    issues = selectors.hot_issues()
    assert issues and issues[0].size == 4
    assert any("丽发新城" in place for place in issues[0].places)


def test_finished_orders_teach_the_classifier_with_their_final_category(operator: Any) -> None:
    from django.core.management import CommandError, call_command

    from tests.hotline.conftest import handler

    order = complaint(operator, "工地夜间施工噪音", "和平路工地夜间施工")
    services.perform(order, "dispatch", actor=operator, department="housing", category="城乡建设")
    staff = handler("housing")
    services.perform(order, "acknowledge", actor=staff)
    services.perform(order, "reply", actor=staff, reply="已处理")
    services.perform(order, "close", actor=operator)
    complaint(operator, "还在登记", "未办结的不算")
    expected = [("工地夜间施工噪音", "和平路工地夜间施工", "城乡建设")]
    assert selectors.training_examples(["城乡建设", "环境保护"]) == expected
    assert selectors.training_examples(["环境保护"]) == []
    with pytest.raises(CommandError):
        call_command("hotline", "train")
