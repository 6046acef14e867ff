"""免提交 and 免填 in a real browser (issue 15 item 6), and a department system reading the case by token.

1. 张三 (citizen-demo) registers his 个体工商户 示范区张三小吃店, which the market
   register knows, and applies for it for 个体工商户经营者变更（家庭成员间）: the
   form opens with the shop's registered details and his own contact details
   filled in and marked as prefilled.
2. Both materials come by data sharing: 居民户口簿 (户籍, shared only with his
   consent, which the page asks for) and 营业执照 (the market register). He
   checks and confirms each; the application is submitted with no upload.
3. Both exchanges appear in his 谁用了我的数据 lists with their exchange ids;
   the market clerk sees the 六减 figures on the case page.
4. The market's registration system, with a client-credentials token, reads
   the status of this case and is refused a case of the police.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import Snapshot, _serve, seeded_server_state
from .pages import item_guide_path
from .test_cases import answer_every_question, case_number_of, check_accessibility, log_in, named, reload_until

pytestmark = pytest.mark.e2e

ITEM = "个体工商户经营者变更（家庭成员间）"  # the demo city's item whose materials all come by sharing
SHOP = "示范区张三小吃店"
MARKET = "示范市市场监督管理局"
CITIZEN_MOBILE = "13800000001"  # 张三's verified mobile (yiwang.accounts.demo)
HOUSEHOLD, LICENCE = "居民户口簿", "营业执照"
EXCHANGE_ID = re.compile(r"交换编号 (\S+)，获取于")


def shop_credit_code() -> str:
    """The snack shop's code in the market register (yiwang.exchange.demo)."""
    from yiwang.exchange.demo import SNACK_SHOP

    return SNACK_SHOP


@pytest.fixture(scope="module")
def sharing_url(seeded_snapshot: Snapshot) -> Iterator[str]:
    """A portal of this module's own: 张三 registers an organisation here that other walks do not expect."""
    with seeded_server_state(seeded_snapshot, "yiwang-e2e-sharing-") as (var_dir, database_env):
        yield from _serve(var_dir, database_env)


def fetch_and_confirm(page: Page, material: str, *, consent: bool) -> str:
    """From the application page: open the material's page, consent if asked, fetch, check and confirm."""
    page.get_by_role("link", name=named("获取并确认", f"：{material}")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(material)
    consent_section = page.get_by_role("region", name="授权获取")
    if consent:
        # 户籍 is shared only with the person's consent: the page asks before anything is fetched.
        expect(consent_section).to_be_visible()
        expect(page.get_by_role("region", name="获取到的信息")).to_have_count(0)
        consent_section.get_by_role("button", name="授权并获取").click()
        expect(page.get_by_role("alert").or_(page.get_by_role("status")).first).to_contain_text("请勾选同意")
        consent_section.get_by_label("我同意为办理本事项提供以上信息").check()
        consent_section.get_by_role("button", name="授权并获取").click()
    else:
        expect(consent_section).to_have_count(0)
        page.get_by_role("button", name="获取", exact=True).click()
    fetched = page.get_by_role("region", name="获取到的信息")
    expect(fetched).to_be_visible()
    found = EXCHANGE_ID.search(fetched.inner_text())
    assert found, fetched.inner_text()
    fetched.get_by_label("我已核对，信息无误，同意作为申请材料").check()
    fetched.get_by_role("button", name="确认使用").click()
    expect(page.get_by_role("status").filter(has_text="已确认，该材料免提交")).to_be_visible()
    return found.group(1)


def token_for(portal_url: str, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310  (http://127.0.0.1 only)
        portal_url + "/o/token/",
        data=urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "cases:read"}).encode(),
        headers={"Authorization": f"Basic {basic}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return str(json.load(response)["access_token"])


def case_status(portal_url: str, token: str, number: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310  (http://127.0.0.1 only)
        f"{portal_url}/api/v1/cases/{number}/status", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def test_shared_materials_prefilled_form_zero_uploads_and_a_department_systems_token(
    new_context: Callable[..., Any], sharing_url: str
) -> None:
    url = sharing_url
    citizen = log_in(new_context, url, "citizen-demo")

    # 1. The shop, registered by its operator; then the item, found by searching, applied for as the shop.
    citizen.goto(url + "/accounts/organisations/new/")
    citizen.get_by_label("法人名称").fill(SHOP)
    citizen.get_by_label("统一社会信用代码").fill(shop_credit_code())
    citizen.get_by_role("button", name="登记", exact=True).click()
    expect(citizen.get_by_role("heading", level=1)).to_contain_text(SHOP)

    citizen.goto(url + item_guide_path(citizen, url, ITEM))
    citizen.get_by_role("button", name="在线办理").click()
    citizen.get_by_role("group", name="为谁办理").get_by_label(SHOP, exact=True).check()
    citizen.get_by_role("button", name="开始填写").click()
    expect(citizen).to_have_url(re.compile(r"/applications/\d+/$"))
    application_url = citizen.url

    # 免填: the shop's registered details and 张三's own contact details, marked as prefilled.
    for label, value in (
        ("单位名称", SHOP),
        ("统一社会信用代码", shop_credit_code()),
        ("法定代表人", "张三"),
        ("联系人", "张三"),
        ("联系电话", CITIZEN_MOBILE),
    ):
        expect(citizen.get_by_label(label, exact=True)).to_have_value(value)
    expect(citizen.locator("#field-contact_mobile-prefill")).to_have_text("已按您的实名信息预填，如有变化可直接修改")
    expect(citizen.get_by_label("住所（经营场所）", exact=True)).to_have_value("")
    answer_every_question(citizen, {"家庭成员": "是"})
    citizen.get_by_label("住所（经营场所）", exact=True).fill("示范市幸福街道幸福路8号")
    citizen.get_by_role("button", name="保存草稿").click()
    expect(citizen.get_by_label("单位名称", exact=True)).to_have_value(SHOP)  # kept after saving
    check_accessibility(citizen, "prefilled application page")

    # 2. 免提交: nothing to upload; both materials fetched, checked and confirmed.
    expect(citizen.locator("#materials .material")).to_have_count(0)
    household_exchange = fetch_and_confirm(citizen, HOUSEHOLD, consent=True)
    licence_exchange = fetch_and_confirm(citizen, LICENCE, consent=False)
    assert household_exchange != licence_exchange
    expect(citizen).to_have_url(re.compile(re.escape(application_url)))
    taken = citizen.locator(".shared-taken")
    expect(taken).to_have_count(2)
    expect(taken.filter(has_text=household_exchange)).to_have_count(1)
    expect(taken.filter(has_text=licence_exchange)).to_have_count(1)
    expect(citizen.locator("input[type=file]")).to_have_count(0)

    citizen.get_by_role("button", name="提交申请").click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text("申请已提交")
    number = case_number_of(citizen, ITEM)
    assert number.startswith("MARKET-")

    # 3. 谁用了我的数据: both exchanges with their ids, the 户籍 one also among the reads of his personal data.
    citizen.goto(url + "/exchange/consents/")
    exchanges = citizen.get_by_role("region", name="最近的数据交换")
    for exchange_id, service in ((household_exchange, "户籍信息核验"), (licence_exchange, "营业执照信息核验")):
        record = exchanges.locator(".record").filter(has_text=exchange_id)
        expect(record).to_contain_text(service)
        expect(record).to_contain_text(MARKET)
        expect(record).to_contain_text(ITEM)
    citizen.goto(url + "/accounts/data-access/")
    expect(citizen.locator("main")).to_contain_text(household_exchange)

    clerk = log_in(new_context, url, "counter-clerk")
    reload_until(
        clerk,
        f"{url}/workbench/cases/{number}/",
        lambda page: page.locator("#case-savings").filter(has_text="免填字段 5 项，免交材料 2 项"),
    )

    # 4. The market's registration system: registered by the market's administrator, then called by token.
    admin = log_in(new_context, url, "market-admin")
    admin.goto(url + "/staff/service-accounts/")
    admin.get_by_label("系统名称").fill("示范市市场监管局登记注册系统")
    admin.get_by_label("所属部门").select_option(label=MARKET)
    admin.get_by_label(re.compile(r"^cases:read")).check()
    admin.get_by_role("button", name="登记并生成密钥").click()
    client_id = admin.locator("dt:text-is('client_id') + dd").first.inner_text().strip()
    secret = admin.locator("dt:text-is('client_secret') + dd").first.inner_text().strip()
    assert client_id and secret

    token = token_for(url, client_id, secret)
    status, body = case_status(url, token, number)
    assert status == 200, body
    assert body["number"] == number and body["department_code"] == "market" and body["state"] == "submitted"
    assert "applicant" not in json.dumps(body, ensure_ascii=False)

    # A case of the police (张三's demo 居民身份证补领): another department's, answered as if it did not exist.
    citizen.goto(url + "/cases/")
    police_case = re.search(r"POLICE-\d{8}-\d{6}", citizen.locator("main").inner_text())
    assert police_case, "the demo citizen has a police case"
    status, body = case_status(url, token, police_case.group(0))
    assert status == 404 and body["code"] == "not_found", body
