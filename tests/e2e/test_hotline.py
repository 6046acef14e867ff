"""The 12345 hotline and 好差评 in a real browser, against ``yiwang serve`` with a trained dispatch classifier.

1. An operator takes a phone complaint about night-time building noise; the
   classifier (trained here from the shared data set, as `yiwang hotline
   train` does) suggests 城乡建设 → 住建局, and the operator accepts it with one
   click. 住建局 sends it back (noise pollution is the environment bureau's),
   the operator dispatches it to the second suggestion, 生态环境局, which
   acknowledges and replies; the operator closes it and records the callback.
2. 张三 (citizen-demo) rates his closed demo case 非常不满意 with his real
   name; a rectification order appears on 市场监管局's desk, whose handler
   calls him back and reports; the order closes within its time limit, and
   张三 confirms on the case page that the problem is solved.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import Snapshot, _serve, seeded_server_state
from .test_cases import check_accessibility, log_in, named, reload_until

pytestmark = pytest.mark.e2e

NOISE_TITLE = "和平路工地夜间施工噪音扰民"
NOISE_TEXT = "和平路与人民大道交叉口的建筑工地每天晚上十一点以后还在施工，噪音很大，影响周边居民休息。"
# 张三's demo case that went all the way to 已办结 (yiwang.cases.demo), handled by 市场监管局.
CLOSED_ITEM = "食品经营许可"
MARKET = "示范市市场监督管理局"
BAD_COMMENT = "许可证拿到了，但窗口让我来回跑了三趟，每次要的材料都不一样。"
CALLBACK_NOTE = "已致电张三，为材料要求不一致道歉，说明已统一窗口材料清单；张三表示认可。"
REPORT = "经核查，窗口未按办事指南一次性告知所需材料。已对窗口人员批评教育，统一并公开了食品经营许可材料清单。"


@pytest.fixture(scope="module")
def hotline_url(shared_dir: Path, seeded_snapshot: Snapshot) -> Iterator[str]:
    """A seeded portal whose classifier learnt from the shared, labelled message titles."""
    titles = shared_dir / "data" / "hotline" / "titles_train.csv"
    with seeded_server_state(seeded_snapshot, "yiwang-e2e-hotline-") as (var_dir, database_env):
        yield from _serve(var_dir, database_env, setup=(["hotline", "train", "--csv", str(titles)],))


def act(page: Page, action: str, *, text: str | None = None, choice: str | None = None) -> None:
    """Fill in and submit one action form of the order page (its panel has the id action-<action>)."""
    panel = page.locator(f"#action-{action}")
    expect(panel).to_be_visible()
    if choice is not None:
        panel.get_by_label(choice, exact=True).check()
    if text is not None:
        panel.get_by_role("textbox").first.fill(text)
    panel.locator("form").last.get_by_role("button").last.click()
    page.wait_for_load_state()


def test_operator_accepts_the_suggestion_department_sends_back_redispatched_and_closed(
    new_context: Callable[..., Any], hotline_url: str
) -> None:
    operator = log_in(new_context, hotline_url, "hotline-operator")
    operator.goto(hotline_url + "/hotline/desk/intake/")
    operator.get_by_label("投诉", exact=True).check()
    operator.get_by_label("标题").fill(NOISE_TITLE)
    operator.get_by_label("诉求内容").fill(NOISE_TEXT)
    operator.get_by_label("来电人姓名").fill("李先生")
    operator.get_by_label("联系电话").fill("13900001234")
    operator.get_by_role("button", name="登记", exact=True).click()
    expect(operator.get_by_role("heading", name="派单建议")).to_be_visible()
    suggestions = operator.locator(".suggestion")
    expect(suggestions.first).to_contain_text("城乡建设")
    expect(suggestions.first).to_contain_text("住房和城乡建设局")
    check_accessibility(operator, "operator's order page with suggestions")
    order_url = operator.url
    number = order_url.rstrip("/").rsplit("/", 1)[-1]
    suggestions.first.get_by_role("button").click()
    expect(operator.locator("body")).to_contain_text("待签收")

    housing = log_in(new_context, hotline_url, "housing-handler")
    housing.goto(hotline_url + "/hotline/desk/")
    housing.get_by_role("link", name=number).first.click()
    act(housing, "acknowledge")
    act(housing, "send_back", text="夜间施工噪音污染由生态环境部门查处，请改派生态环境局")
    expect(housing.locator("body")).to_contain_text("待派单")

    operator.goto(order_url)
    expect(operator.locator(".timeline")).to_contain_text("夜间施工噪音污染由生态环境部门查处")
    second = operator.locator(".suggestion").filter(has_text="环境保护")
    second.get_by_role("button").click()
    expect(operator.locator("body")).to_contain_text("待签收")

    ecology = log_in(new_context, hotline_url, "ecology-handler")
    ecology.goto(hotline_url + f"/hotline/desk/{number}/")
    act(ecology, "acknowledge")
    act(ecology, "reply", text="已到现场检测，责令施工单位22时后停止高噪声作业，并纳入夜间巡查。")
    expect(ecology.locator("body")).to_contain_text("已答复")

    operator.goto(order_url)
    act(operator, "close")
    act(operator, "record_callback", choice="满意", text="来电人表示夜间已无施工噪音，满意。")
    expect(operator.locator("body")).to_contain_text("已回访")
    expect(operator.get_by_role("main")).to_contain_text("责令施工单位22时后停止高噪声作业")


def test_bad_real_name_rating_is_rectified_by_the_department_and_confirmed_by_the_rater(
    new_context: Callable[..., Any], hotline_url: str
) -> None:
    citizen = log_in(new_context, hotline_url, "citizen-demo")
    citizen.goto(hotline_url + "/cases/")
    closed = citizen.get_by_role("row").filter(has_text=CLOSED_ITEM).filter(has_text="已办结")
    expect(closed).to_have_count(1)
    case_number = closed.get_by_role("link").inner_text().strip()
    closed.get_by_role("link").click()
    case_url = citizen.url
    expect(citizen.locator("#case-state")).to_have_text("已办结")
    # A finished, unrated case invites its applicant to rate it.
    citizen.locator("#rating").get_by_role("link", name=named("评价", f"办件 {case_number}")).click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text("服务评价（好差评）")
    expect(citizen.get_by_role("main")).to_contain_text("实名评价为“不满意”或“非常不满意”的，将转责任部门整改并回访您")
    check_accessibility(citizen, "the rating page of a closed case")
    citizen.get_by_role("group", name="总体评价", exact=True).get_by_label("非常不满意", exact=True).check()
    citizen.get_by_label("评价内容").fill(BAD_COMMENT)
    citizen.get_by_role("button", name="提交评价").click()

    # Rated once (一事一评): the page now shows the rating and the rectification it opened, with its deadline.
    expect(citizen.locator(".messages")).to_contain_text("感谢您的评价！")
    mine = citizen.locator("#rating")
    expect(mine).to_contain_text("非常不满意")
    expect(mine).to_contain_text("实名评价")
    expect(mine).to_contain_text(BAD_COMMENT)
    expect(citizen.locator("#rectification-state")).to_have_text("待签收")
    rectification = citizen.locator(".rectification")
    expect(rectification).to_contain_text("责任部门正在办理，答复后将在这里显示。")
    order_number = rectification.locator("dd.code").inner_text().strip()
    assert re.fullmatch(r"12345-\d{8}-\d{6}", order_number), order_number
    due_text = rectification.locator("div").filter(has_text="整改期限").locator("dd").inner_text().strip()
    due = dt.date.fromisoformat(due_text)
    rated_on = dt.date.fromisoformat((mine.locator("time").first.get_attribute("datetime") or "")[:10])
    assert due > rated_on, f"rated on {rated_on}, the rectification is due {due}"
    expect(citizen.get_by_role("button", name="提交评价")).to_have_count(0)
    expect(citizen.locator("#resolution")).to_have_count(0)  # nothing to confirm before the department reports

    # 市场监管局's desk: the order waits there with its deadline, dispatched by the platform.
    market = log_in(new_context, hotline_url, "market-reviewer")
    market.goto(hotline_url + "/hotline/desk/")
    row = market.get_by_role("row").filter(has=market.get_by_role("link", name=order_number, exact=True))
    expect(row).to_contain_text("差评整改")
    expect(row).to_contain_text(f"差评整改：{CLOSED_ITEM}")
    expect(row).to_contain_text(MARKET)
    expect(row).to_contain_text("待签收")
    expect(row.locator("time").first).to_have_text(due_text)
    row.get_by_role("link", name=order_number, exact=True).click()
    order_url = market.url
    expect(market.locator("#order-state")).to_have_text("待签收")
    summary = market.get_by_role("region", name="工单概况")
    expect(summary).to_contain_text("差评整改")
    expect(summary).to_contain_text(due_text)
    expect(market.get_by_role("region", name="来电人")).to_contain_text("张三")
    expect(market.get_by_role("region", name="诉求内容")).to_contain_text("非常不满意")
    expect(market.get_by_role("region", name="诉求内容")).to_contain_text(BAD_COMMENT)
    check_accessibility(market, "a rectification order on the department desk")

    act(market, "acknowledge")
    expect(market.locator("#order-state")).to_have_text("办理中")
    # The report comes after the call to the rater: the page says so, and the service holds to it.
    expect(market.locator("#action-reply")).to_contain_text("差评整改须先回访评价人")
    act(market, "reply", text=REPORT)
    expect(market.locator("#action-reply").get_by_role("alert")).to_contain_text(
        "差评整改须先回访评价人，再提交整改报告"
    )
    expect(market.locator("#order-state")).to_have_text("办理中")

    market.goto(order_url)
    expect(market.locator("#action-record_callback")).to_contain_text("请致电评价人，说明整改情况并记录其意见。")
    act(market, "record_callback", choice="满意", text=CALLBACK_NOTE)
    expect(market.locator(".messages")).to_contain_text("已完成：回访")
    expect(market.locator("#order-state")).to_have_text("办理中")
    expect(summary).to_contain_text(CALLBACK_NOTE)
    act(market, "reply", text=REPORT)
    # The department's report closes a rectification: no operator reviews it.
    expect(market.locator("#order-state")).to_have_text("已办结")
    expect(market.get_by_role("region", name="诉求内容")).to_contain_text(REPORT)
    expect(market.get_by_role("main")).to_contain_text("没有您可以执行的操作")
    timeline = market.locator(".timeline li")
    expect(timeline).to_have_count(5)
    for index, (label, state) in enumerate(
        [("登记", "待派单"), ("派单", "待签收"), ("签收", "办理中"), ("回访", ""), ("答复", "已办结")]
    ):
        expect(timeline.nth(index).locator(".timeline-label")).to_have_text(label)
        if state:
            expect(timeline.nth(index)).to_contain_text(f"状态：{state}")
    expect(timeline.nth(4)).to_contain_text(MARKET)
    # Closed within the time limit the rater and the desk were shown when it opened.
    closed_at = timeline.nth(4).locator("time").get_attribute("datetime") or ""
    closed_on = dt.date.fromisoformat(closed_at[:10])
    assert closed_on <= due, f"closed on {closed_on}, due {due}"
    market.goto(hotline_url + "/hotline/desk/")
    expect(market.get_by_role("link", name=order_number, exact=True)).to_have_count(0)

    # 张三 sees the report on his case page and says the problem is solved.
    citizen.goto(case_url)
    expect(citizen.locator("#rectification-state")).to_have_text("已办结")
    expect(citizen.locator(".rectification")).to_contain_text(REPORT)
    resolution = citizen.locator("#resolution")
    expect(resolution).to_contain_text("请确认整改结果")
    check_accessibility(citizen, "the case page asking to confirm the rectification")
    resolution.get_by_role("group", name="问题是否已经解决？").get_by_label("已解决", exact=True).check()
    resolution.get_by_label("补充说明").fill("窗口已经打电话道歉，材料清单也公开了，谢谢。")
    resolution.get_by_role("button", name="提交确认").click()
    expect(citizen).to_have_url(re.compile(re.escape(case_url) + "#resolution$"))
    expect(citizen.locator(".messages")).to_contain_text("感谢您的确认，整改已完成。")
    expect(citizen.locator("#rectification-state")).to_have_text("已回访")
    expect(citizen.locator(".rectification")).to_contain_text("您已确认问题已经解决。")
    expect(citizen.locator("#resolution")).to_have_count(0)

    market.goto(order_url)
    expect(market.locator("#order-state")).to_have_text("已回访")
    expect(timeline.last.locator(".timeline-label")).to_have_text("确认办理结果")
    expect(timeline.last).to_contain_text("状态：已回访")

    # The public results count the rectification as done on time once the worker has settled it.
    results_url = hotline_url + "/ratings/results/market/"
    reload_until(citizen, results_url, lambda page: page.locator(".fact").filter(has_text="100.0%"))
    expect(citizen.locator(".fact").filter(has_text="差评按期整改率")).to_contain_text("100.0%")
