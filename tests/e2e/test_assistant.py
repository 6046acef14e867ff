"""智能客服 in a real browser: a cited answer, a follow-up, a question it cannot answer, a 12345 operator's
live reply.

1. A visitor (not signed in) asks "办身份证要带啥" on the chat page (the first question goes as a plain
   form) and gets the materials of 居民身份证首次申领 with the guide cited.
2. "那要多少钱" (sent by the script without a reload) answers that item's fees.
3. "明天天气怎么样" is declined; the visitor hands the conversation to staff (转人工客服).
4. The 12345 operator opens the live-chat desk, sees the conversation carried over, takes it and replies;
   the visitor's page shows the reply (fetched by the script's polling, no reload).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .test_cases import check_accessibility, log_in

pytestmark = pytest.mark.e2e

OPERATOR = "hotline-operator"
STAFF_REPLY = "明天示范市晴，15到22度。天气可以拨打12121气象热线查询。"


# A fresh server's first answers load the sentence model's working memory; on a busy machine that takes a while.
ANSWER_TIMEOUT = 60_000


def ask(page: Page, question: str) -> None:
    page.get_by_label("您的问题").fill(question)
    page.get_by_role("button", name="发送", exact=True).click(no_wait_after=True)


def test_citizen_asks_follows_up_and_is_answered_by_an_operator(
    page: Page, portal_url: str, new_context: Callable[..., Any]
) -> None:
    page.goto(portal_url + "/assistant/")
    check_accessibility(page, "the chat page")
    ask(page, "办身份证要带啥")
    page.wait_for_url("**/assistant/c/**", timeout=ANSWER_TIMEOUT)
    answer = page.locator(".turn-assistant").last
    expect(answer).to_contain_text("居民户口簿")
    expect(answer.get_by_role("link", name="居民身份证首次申领")).to_have_attribute("href", "/items/" + _code(answer))

    ask(page, "那要多少钱")
    fees = page.locator(".turn-assistant").nth(1)
    expect(fees).to_contain_text("工本费", timeout=ANSWER_TIMEOUT)
    expect(fees.get_by_role("link", name="居民身份证首次申领")).to_be_visible()

    ask(page, "明天天气怎么样")
    expect(page.locator(".turn-assistant").nth(2)).to_contain_text("暂时回答不了", timeout=ANSWER_TIMEOUT)
    page.get_by_role("button", name="转人工客服").click()
    expect(page.get_by_text("正在等待人工客服接入")).to_be_visible()
    check_accessibility(page, "a conversation waiting for staff")

    operator = log_in(new_context, portal_url, OPERATOR)
    operator.goto(portal_url + "/assistant/desk/")
    operator.get_by_role("link", name="办身份证要带啥").first.click()
    expect(operator.locator(".turns")).to_contain_text("明天天气怎么样")
    operator.get_by_role("button", name="接入会话").click()
    operator.get_by_label("回复").fill(STAFF_REPLY)
    operator.get_by_role("button", name="发送回复").click()
    expect(operator.locator(".turn-staff")).to_contain_text("12121")

    # The visitor's page fetches the reply by itself.
    expect(page.locator(".turn-staff")).to_contain_text("12121", timeout=30_000)


def _code(answer: Any) -> str:
    href: str = answer.get_by_role("link", name="居民身份证首次申领").get_attribute("href")
    return href.removeprefix("/items/")
