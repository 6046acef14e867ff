"""E-licences in a real browser: from a decided case to 我的证照, a material taken from the wallet, and 亮证.

1. 张三 (citizen-demo) applies for 食品经营许可 as a person; the market staff accept, review, approve and
   make the certificate (制证).
2. The worker issues the 食品经营许可证: it appears in 我的证照 and downloads as a sealed PDF; the case page lists
   the sealed 受理回执 and decision, whose PDF names itself.
3. 张三 applies for 食品经营许可变更, which asks for the 食品经营许可证: he takes it from the wallet, confirming,
   instead of uploading it, and submits.
4. He shows the licence (亮证) with two chosen fields; a verifier opens the link without logging in and sees
   those fields and the signed attestation; opening it again is refused.
5. The licence's history shows the verification.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import test_cases as walk

pytestmark = pytest.mark.e2e

FOOD_LICENCE = "食品经营许可"
FOOD_CHANGE = "食品经营许可变更"
LICENCE_NAME = "食品经营许可证"


def _apply_for(citizen: Page, portal_url: str, item: str) -> None:
    citizen.goto(f"{portal_url}/search/?q={item}&type=item")
    citizen.locator(".result-list").get_by_role("link", name=item, exact=True).first.click()
    citizen.get_by_role("button", name="在线办理").click()
    citizen.wait_for_load_state()
    if not re.search(r"/applications/\d+/$", citizen.url):
        # 张三 holds a delegation: the start page asks for whom first.
        chooser = citizen.get_by_role("group", name="为谁办理")
        if chooser.count():
            chooser.get_by_label("本人", exact=True).check()
        citizen.get_by_role("button", name=re.compile("^(开始填写|继续填写草稿)$")).click()
    expect(citizen).to_have_url(re.compile(r"/applications/\d+/$"))
    walk.answer_every_question(citizen, {})
    kind = citizen.get_by_label("申请人类型")
    if kind.count():
        kind.select_option(label="个人")
    citizen.get_by_label("申请人姓名").fill("张三")
    citizen.get_by_label("联系电话").fill("13800000001")
    citizen.get_by_label("联系地址").fill("示范市幸福街道幸福路8号")
    citizen.get_by_role("button", name="保存草稿").click()


def test_a_licence_from_a_decision_serves_as_a_material_and_is_shown_to_a_verifier(
    new_context: Callable[..., Any], portal_url: str
) -> None:
    citizen = walk.log_in(new_context, portal_url, walk.CITIZEN)

    # 1. The application and its decision.
    _apply_for(citizen, portal_url, FOOD_LICENCE)
    walk.upload_every_material(citizen)
    citizen.get_by_role("button", name="提交申请").click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text("申请已提交")
    number = walk.case_number_of(citizen, FOOD_LICENCE)

    clerk = walk.log_in(new_context, portal_url, "counter-clerk")
    walk.act(clerk, portal_url, number, "受理")
    reviewer = walk.log_in(new_context, portal_url, "market-reviewer")
    walk.act(reviewer, portal_url, number, "审查通过", "材料齐全，现场核查符合要求")
    approver = walk.log_in(new_context, portal_url, "market-approver")
    walk.act(approver, portal_url, number, "准予许可", "准予许可")
    walk.act(clerk, portal_url, number, "制证")

    # 2. The licence in 我的证照, issued from this case, with its sealed PDF.
    def licence_of_case(page: Page) -> Any:
        return page.locator(".licence-entry").filter(has_text=LICENCE_NAME).filter(has_text=number)

    walk.reload_until(citizen, portal_url + "/licences/", licence_of_case)
    walk.check_accessibility(citizen, "licence wallet")
    entries = licence_of_case(citizen)
    entries.first.get_by_role("link", name=LICENCE_NAME, exact=True).click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text(LICENCE_NAME)
    expect(citizen.locator("#licence-status")).to_have_text("有效")
    expect(citizen.locator("#licence-face")).to_contain_text("已加盖电子印章")
    licence_url = citizen.url
    identifier = citizen.locator("#licence-identifier").inner_text().strip()
    assert identifier.startswith("1.2.156.3005.2.")
    with citizen.expect_download() as download_info:
        citizen.get_by_role("link", name="下载盖章PDF").click()
    pdf_path = download_info.value.path()
    from pypdf import PdfReader

    content = pdf_path.read_bytes()
    reader = PdfReader(io.BytesIO(content))
    assert reader.metadata is not None and reader.metadata.subject == identifier
    assert "licence-seal.json" in reader.attachments
    walk.check_accessibility(citizen, "licence page")

    # 2b. The case page lists the case's sealed documents; the decision's PDF names itself and carries its seal.
    def sealed_link(page: Page, title: str) -> Any:
        return page.locator("#sealed-documents-title + ul a").filter(has_text=title)

    walk.reload_until(citizen, f"{portal_url}/cases/{number}/", lambda page: sealed_link(page, "准予行政许可决定书"))
    expect(sealed_link(citizen, "受理回执")).to_be_visible()
    with citizen.expect_download() as decision_download:
        sealed_link(citizen, "准予行政许可决定书").click()
    decision = PdfReader(io.BytesIO(decision_download.value.path().read_bytes()))
    assert decision.metadata is not None and decision.metadata.subject == f"DOC:{number}:decision:1"
    assert "decision-seal.json" in decision.attachments

    # 3. A later application takes the licence from the wallet instead of an upload.
    _apply_for(citizen, portal_url, FOOD_CHANGE)
    wallet_form = citizen.locator(".wallet-form").filter(has_text=LICENCE_NAME).first
    expect(wallet_form).to_be_visible()
    choice = wallet_form.get_by_role("combobox")
    option = choice.locator("option").filter(has_text=identifier)
    choice.select_option(value=option.get_attribute("value"))
    wallet_form.get_by_role("checkbox").check()
    wallet_form.get_by_role("button", name=re.compile("^确认调取")).click()
    expect(citizen.get_by_role("status").filter(has_text="已从我的证照调取")).to_be_visible()
    expect(citizen.locator(".wallet-taken").filter(has_text=identifier)).to_be_visible()
    walk.upload_every_material(citizen)
    citizen.get_by_role("button", name="提交申请").click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text("申请已提交")

    # 4. 亮证: two fields, five minutes; the verifier needs no account.
    citizen.goto(licence_url)
    share = citizen.get_by_role("region", name="亮证")
    share.get_by_label("持证主体").check()
    share.get_by_label("经营场所").check()
    share.get_by_label("有效期至").uncheck()
    share.get_by_role("button", name="生成亮证二维码").click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text("亮证二维码")
    expect(citizen.locator(".share-qr svg")).to_be_visible()
    share_url = citizen.locator("#share-url").get_attribute("href")
    assert share_url

    verifier = new_context().new_page()
    verifier.goto(share_url)
    verifier.get_by_role("button", name="查看亮证信息").click()
    shown = verifier.locator("#shared-licence")
    expect(shown).to_contain_text("张三")
    expect(shown).to_contain_text("示范市幸福街道幸福路8号")
    expect(shown).not_to_contain_text("有效期至")
    expect(verifier.get_by_role("heading", name="核验证明")).to_be_visible()
    expect(verifier.locator("#attestation")).to_contain_text(identifier)
    walk.check_accessibility(verifier, "share verification page")
    verifier.goto(share_url)
    verifier.get_by_role("button", name="查看亮证信息").click()
    expect(verifier.get_by_role("alert")).to_contain_text("不能重复核验")

    # 5. Every verification is in the holder's history.
    citizen.goto(licence_url)
    history = citizen.locator("#licence-history")
    expect(history).to_contain_text("亮证核验")
    expect(history).to_contain_text("亮证核验被拒绝")
    expect(history).to_contain_text("用作申请材料")
