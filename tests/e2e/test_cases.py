"""Case handling in a real browser, from the citizen's application to the closed case.

One walk through the whole flow against ``yiwang serve`` (with its embedded
worker, which turns case events into messages and delivers the sandbox
gateway's payment callback):

1. 张三 (citizen-demo) applies for 开餐馆一件事 as 个体工商户 with a shop sign,
   uploads the materials (small PDFs made here with pypdf) and submits:
   three cases in two departments.
2. The counter clerk accepts the 食品经营许可 case; the market reviewer asks
   for one material again (一次性告知). Meanwhile 城市管理局 accepts and
   reviews the 户外广告设施设置许可 case: the departments work in parallel.
3. 张三 sees the correction on the case page and in the message centre,
   uploads the corrected file and resubmits; both cases are decided, issued
   and closed.
4. At the counter, the clerk checks 张三's identity and files 居民身份证补领
   for him (a fee-charging item: the restaurant items charge nothing); the
   police review and approve it; 张三 pays through the sandbox cashier, the
   callback moves the case on, and the clerk issues and closes it.
5. The message centre shows the notifications of the way.

Staff accounts bind their authenticator at their first login, as every staff
account must; each actor keeps one browser context for the whole walk.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e

DEMO_PASSWORD = "Yiwang-demo-2026"  # the documented demo password
CITIZEN = "citizen-demo"
# 张三's resident ID: the demo district, born 1990-01-01, sequence 123 (yiwang.accounts.demo).
CITIZEN_BIRTH, CITIZEN_SEQUENCE = "19900101", "123"
FOOD_LICENCE = "食品经营许可"
OUTDOOR_SIGN = "户外广告设施设置许可"
ID_CARD_REISSUE = "居民身份证补领"
CORRECTED_MATERIAL = "与食品经营相适应的主要设备设施、经营布局、操作流程等文件"
CORRECTION_PROBLEM = "经营布局图未标明粗加工区和餐用具清洗消毒区"
# The embedded worker polls every two seconds; a few passes are plenty.
WORKER_WAIT_SECONDS = 45
BLOCKING_IMPACTS = {"serious", "critical"}

# Authenticator secrets of the staff accounts this module enrolled, and the last time step each used.
# Per (server, username): each server has its own accounts, so its own authenticators.
_secrets: dict[tuple[str, str], str] = {}
_last_step: dict[tuple[str, str], int] = {}


def named(visible: str, hidden: str) -> re.Pattern[str]:
    """The accessible name of a control whose visible text is completed by visually hidden text for screen readers."""
    return re.compile(rf"^{re.escape(visible)}\s*{re.escape(hidden)}$")


def citizen_document_number() -> str:
    from yiwang.core.identifiers import make_resident_id

    return make_resident_id("990102", CITIZEN_BIRTH, CITIZEN_SEQUENCE)


def pdf(title: str) -> dict[str, Any]:
    """A small, valid, script-free PDF, as a file chooser would hand it over."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    buffer = io.BytesIO()
    writer.write(buffer)
    return {"name": f"{title}.pdf", "mimeType": "application/pdf", "buffer": buffer.getvalue()}


def _fresh_code(account: tuple[str, str]) -> str:
    """A code the account has not used yet: a time step is good once.

    The server accepts the previous, current and next 30-second step, each
    once and in increasing order (accounts' ``_accept_totp``). Taking the next
    unused step means waiting only when even the next window's step is
    already spent, and then just until that window opens.
    """
    totp = pyotp.TOTP(_secrets[account])
    current = int(time.time() // totp.interval)
    step = max(current, _last_step.get(account, -1) + 1)
    if step > current + 1:
        time.sleep((step - 1) * totp.interval - time.time() + 0.5)
    _last_step[account] = step
    return totp.at(step * totp.interval)


def log_in(new_context: Callable[..., Any], portal_url: str, username: str) -> Page:
    """A browser of its own for ``username``, logged in (staff bind their authenticator the first time)."""
    account = (portal_url, username)
    page: Page = new_context().new_page()
    page.goto(portal_url + "/accounts/login/")
    page.get_by_label("手机号、身份证号或工号").fill(username)
    page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_load_state()
    if page.url.endswith("/accounts/totp/setup/"):
        _secrets[account] = page.locator("#totp-secret").inner_text().strip()
        page.get_by_label("动态口令", exact=True).fill(_fresh_code(account))
        page.get_by_role("button", name="完成绑定").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("请保存恢复码")
        page.get_by_role("link", name="我已保存，继续").click()
    elif page.url.endswith("/accounts/login/verify/"):
        assert account in _secrets, f"{username} bound an authenticator outside this module; its secret is unknown"
        page.get_by_label("动态口令或恢复码").fill(_fresh_code(account))
        page.get_by_role("button", name="验证并登录").click()
    # Citizens land on 我的账户, staff on their home listing their desks.
    expect(page).to_have_url(re.compile(re.escape(portal_url) + r"/accounts/(desks/)?$"))
    return page


def reload_until(page: Page, url: str, locator: Callable[[Page], Locator]) -> None:
    """Open ``url`` until ``locator`` shows: what the background worker does takes a moment."""
    deadline = time.monotonic() + WORKER_WAIT_SECONDS
    while True:
        page.goto(url)
        if locator(page).count() > 0:
            return
        if time.monotonic() > deadline:
            expect(locator(page).first).to_be_visible()  # fails with Playwright's description of what is missing
            return
        page.wait_for_timeout(1000)


def check_accessibility(page: Page, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    violations = [v for v in Axe().run(page).response["violations"] if v["impact"] in BLOCKING_IMPACTS]
    described = "\n".join(
        f"[{v['impact']}] {v['id']}: {v['help']} -> {[' '.join(map(str, n['target'])) for n in v['nodes'][:5]]}"
        for v in violations
    )
    assert not violations, f"{name}:\n{described}"


# --- the applicant's side --------------------------------------------------------------------------


def answer(page: Page, legend: str, option: str) -> None:
    """Choose an answer; with scripts on, the page saves and shows what now applies."""
    choice = page.get_by_role("group", name=legend, exact=True).get_by_label(option, exact=True)
    if choice.is_checked():
        return
    with page.expect_navigation():
        choice.check()


def answer_every_question(page: Page, chosen: dict[str, str]) -> None:
    """The answers in ``chosen`` (question text → option), and 否 to every other yes/no question.

    Answers bring up further questions (a bundle asks about an item once it applies): keep answering
    until every question on the page has an answer.
    """
    answered: set[str] = set()
    while True:
        legends = [legend.strip() for legend in page.locator("fieldset.choice-group legend").all_inner_texts()]
        pending = [legend for legend in legends if legend not in answered]
        if not pending:
            return
        legend = pending[0]
        option = next((value for key, value in chosen.items() if key in legend), "否")
        answer(page, legend, option)
        answered.add(legend)


def upload_every_material(page: Page) -> list[str]:
    names = [
        n.replace("（选填）", "").strip() for n in page.locator("#materials .material .material-name").all_inner_texts()
    ]
    for name in names:
        page.get_by_label(f"选择文件：{name}", exact=True).set_input_files(pdf(name[:20]))
        page.get_by_role("button", name=named("上传", f"：{name}")).click()
        expect(page.get_by_role("status").filter(has_text="已上传")).to_be_visible()
    return names


def case_number_of(page: Page, item_name: str) -> str:
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=item_name, exact=True))
    number = row.get_by_role("rowheader").inner_text().strip()
    assert re.fullmatch(r"[A-Z_]+-\d{8}-\d{6}", number), number
    return number


# --- the staff side ----------------------------------------------------------------------------------


def open_case(page: Page, portal_url: str, number: str) -> None:
    page.goto(f"{portal_url}/workbench/?number={number}")
    link = page.get_by_role("link", name=number, exact=True)
    if link.count() == 0:  # no task of this user on it: open it by its number
        link = page.get_by_role("link", name=f"打开办件 {number}")
    link.first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)


def act(page: Page, portal_url: str, number: str, action: str, opinion: str = "") -> None:
    """Take one action from the case's page: each action has its own section, heading and button."""
    open_case(page, portal_url, number)
    section = page.get_by_role("region", name=action, exact=True)
    if opinion:
        section.get_by_label(re.compile("办理意见|理由")).fill(opinion)
    section.get_by_role("button", name=action, exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"已完成：{action}")).to_be_visible()


def state_of(page: Page) -> Locator:
    return page.locator("#case-state")


# --- the walk ------------------------------------------------------------------------------------------


def test_a_bundle_a_correction_parallel_departments_a_counter_case_and_a_payment(
    new_context: Callable[..., Any], portal_url: str
) -> None:
    citizen = log_in(new_context, portal_url, CITIZEN)

    # 1. 开餐馆一件事: one application, the situations decide the items and materials.
    citizen.goto(portal_url + "/bundles/open-restaurant/")
    citizen.get_by_role("button", name="一件事一次办", exact=True).click()
    # 张三 holds 李秀英's delegation, so the bundle first asks for whom: for himself.
    citizen.get_by_role("group", name="为谁办理").get_by_label("本人", exact=True).check()
    citizen.get_by_role("button", name="开始填写").click()
    expect(citizen).to_have_url(re.compile(r"/applications/\d+/$"))
    application_url = citizen.url
    answer_every_question(citizen, {"主体登记": "个体工商户设立登记（以个体工商户形式经营）", "门头招牌": "是"})
    bundle_items = citizen.locator("#bundle-items")
    for name in ("个体工商户设立登记", FOOD_LICENCE, OUTDOOR_SIGN):
        expect(bundle_items).to_contain_text(name)
    expect(citizen.get_by_text("免提交：由营业执照共享获取")).to_be_visible()
    check_accessibility(citizen, "application page")

    citizen.get_by_label("申请人类型").select_option(label="个人")
    citizen.get_by_label("申请人姓名").fill("张三")
    citizen.get_by_label("联系电话").fill("13800000001")
    citizen.get_by_label("联系地址").fill("示范市幸福街道幸福路8号")
    citizen.get_by_role("button", name="保存草稿").click()
    problems = citizen.get_by_role("alert")
    expect(problems).to_contain_text("提交前还需要处理")
    expect(problems).to_contain_text("请上传：户外广告设施设置申请表")

    uploaded = upload_every_material(citizen)
    assert CORRECTED_MATERIAL in uploaded and "户外广告设施设置申请表" in uploaded
    expect(citizen.get_by_label("申请人姓名")).to_have_value("张三")  # kept while files went up
    citizen.get_by_role("button", name="提交申请").click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text("申请已提交")
    food = case_number_of(citizen, FOOD_LICENCE)
    sign = case_number_of(citizen, OUTDOOR_SIGN)
    assert food.startswith("MARKET-") and sign.startswith("URBAN_MANAGEMENT-")
    # One number and one 查询码 for the whole 一件事 (issue 12 item 12), which shows every case's progress.
    bundle_number = citizen.locator("#bundle-number").inner_text().strip()
    bundle_code = citizen.locator("#bundle-code").inner_text().strip()
    assert re.fullmatch(r"YJS-\d{8}-\d{6}", bundle_number), bundle_number
    lookup = new_context().new_page()
    lookup.goto(portal_url + "/cases/lookup/")
    lookup.get_by_label("办件编号").fill(bundle_number)
    lookup.get_by_label("查询码").fill(bundle_code)
    lookup.get_by_role("button", name="查询", exact=True).click()
    for name in (FOOD_LICENCE, OUTDOOR_SIGN):
        expect(lookup.get_by_role("heading", name=name, exact=True)).to_be_visible()
    citizen.goto(portal_url + "/cases/")
    bundle_entry = citizen.locator(".bundle-entry").filter(has_text=bundle_number)
    expect(bundle_entry).to_contain_text(FOOD_LICENCE)
    expect(bundle_entry).to_contain_text(OUTDOOR_SIGN)
    # The back button and a second press find the same cases: no second set is made.
    citizen.goto(application_url)
    expect(citizen.get_by_role("heading", level=1)).to_have_text("申请已提交")

    # 2. Two departments at once: the counter accepts the food case, 城市管理局 takes the sign case.
    clerk = log_in(new_context, portal_url, "counter-clerk")
    # The acceptance is the counter's task: the case is in the clerk's queue (a row linked by its number).
    clerk.goto(f"{portal_url}/workbench/?number={food}")
    expect(clerk.get_by_role("link", name=food, exact=True)).to_be_visible()
    act(clerk, portal_url, food, "受理")
    expect(state_of(clerk)).to_have_text("审查中")

    urban_reviewer = log_in(new_context, portal_url, "urban-reviewer")
    act(urban_reviewer, portal_url, sign, "受理")

    reviewer = log_in(new_context, portal_url, "market-reviewer")
    reviewer.goto(f"{portal_url}/workbench/?number={food}")
    expect(reviewer.get_by_role("link", name=food, exact=True)).to_be_visible()
    open_case(reviewer, portal_url, food)
    check_accessibility(reviewer, "staff case page")
    correction = reviewer.get_by_role("region", name="一次性告知补正", exact=True)
    correction.get_by_label(CORRECTED_MATERIAL, exact=True).check()
    correction.get_by_label(f"“{CORRECTED_MATERIAL}”需要怎样补正").fill(CORRECTION_PROBLEM)
    correction.get_by_role("button", name="一次性告知补正", exact=True).click()
    expect(state_of(reviewer)).to_have_text("待补正")

    act(urban_reviewer, portal_url, sign, "审查通过", "设置位置和规格符合规划要求")

    # 3. 张三 sees the correction on the case page and in the message centre, corrects and resubmits.
    citizen.goto(f"{portal_url}/cases/{food}/")
    expect(state_of(citizen)).to_have_text("待补正")
    expected = citizen.get_by_role("region", name="需要您办理")
    expect(expected).to_contain_text(CORRECTED_MATERIAL)
    expect(expected).to_contain_text(CORRECTION_PROBLEM)
    check_accessibility(citizen, "case page with a correction")
    reload_until(citizen, portal_url + "/messages/", lambda p: p.get_by_role("link", name="需要补正材料"))
    citizen.get_by_role("link", name="需要补正材料").first.click()
    expect(citizen.get_by_role("main")).to_contain_text(food)

    citizen.goto(f"{portal_url}/cases/{food}/")
    citizen.get_by_label(f"选择文件：{CORRECTED_MATERIAL}", exact=True).set_input_files(pdf("经营布局图（修改）"))
    citizen.get_by_role("button", name=named("上传", f"：{CORRECTED_MATERIAL}")).click()
    expect(citizen.get_by_role("status").filter(has_text="已上传")).to_be_visible()
    citizen.get_by_role("button", name="提交补正").click()
    expect(citizen.get_by_role("status").filter(has_text="补正内容已提交")).to_be_visible()
    expect(state_of(citizen)).to_have_text("审查中")

    urban_approver = log_in(new_context, portal_url, "urban-approver")
    act(urban_approver, portal_url, sign, "准予许可", "准予设置")
    act(reviewer, portal_url, food, "审查通过", "补正后材料齐全，现场核查符合要求")
    approver = log_in(new_context, portal_url, "market-approver")
    act(approver, portal_url, food, "准予许可", "准予许可")
    for number in (food, sign):
        act(clerk, portal_url, number, "制证")
        act(clerk, portal_url, number, "送达办结")
        expect(state_of(clerk)).to_have_text("已办结")

    # 4. At the counter: identity first, then any item of any department (无差别受理).
    clerk.goto(portal_url + "/counter/")
    clerk.get_by_label("证件类型").select_option(label="居民身份证")
    clerk.get_by_label("证件号码").fill(citizen_document_number())
    clerk.get_by_label("身份证阅读器读取").check()
    clerk.get_by_role("button", name="核验身份").click()
    expect(clerk.get_by_role("status").filter(has_text="正在为 张* 办理")).to_be_visible()
    clerk.get_by_label("事项名称或编码").fill(ID_CARD_REISSUE)
    clerk.get_by_role("button", name="查找").click()
    clerk.get_by_role("button", name=named("为其办理", f"：{ID_CARD_REISSUE}")).first.click()
    expect(clerk.get_by_role("note").filter(has_text="窗口代办")).to_be_visible()
    answer_every_question(clerk, {})
    clerk.get_by_label("申请人姓名").fill("张三")
    clerk.get_by_label("联系电话").fill("13800000001")
    clerk.get_by_label("联系地址").fill("示范市幸福街道幸福路8号")
    clerk.get_by_role("button", name="保存草稿").click()
    upload_every_material(clerk)
    clerk.get_by_role("button", name="提交申请").click()
    id_case = case_number_of(clerk, ID_CARD_REISSUE)
    clerk.get_by_role("button", name=named("当场受理", id_case)).click()
    expect(clerk.get_by_role("status").filter(has_text="已完成：受理")).to_be_visible()
    clerk.get_by_role("link", name=named("打印受理回执", id_case)).click()
    expect(clerk.get_by_role("heading", level=1)).to_have_text("受理回执")
    # The clerk holds the case, so the receipt names the applicant in full (an audited read, issue 12 item 1).
    expect(clerk.get_by_role("main")).to_contain_text("张三")
    check_accessibility(clerk, "printed receipt")
    clerk.goto(portal_url + "/counter/")
    clerk.get_by_role("button", name="结束本次接待").click()
    expect(clerk.get_by_text("请先核验办事人身份。")).to_be_visible()

    registrar = log_in(new_context, portal_url, "police-registrar")
    act(registrar, portal_url, id_case, "审查通过", "挂失信息核实无误")
    police_approver = log_in(new_context, portal_url, "police-approver")
    # 居民身份证补领 is not a 行政许可: the approver's button says 同意办理 (issue 12 item 7).
    act(police_approver, portal_url, id_case, "同意办理", "准予补领")
    expect(state_of(police_approver)).to_have_text("待缴费")

    # The fee, paid at the sandbox cashier; its callback arrives through the worker.
    citizen.goto(f"{portal_url}/cases/{id_case}/")
    expect(citizen.get_by_role("region", name="需要您办理")).to_contain_text("应缴金额：40.00元")
    citizen.get_by_role("link", name="去缴费").click()
    expect(citizen.get_by_role("heading", level=1)).to_have_text("沙箱支付收银台")
    citizen.get_by_role("button", name="确认支付").click()
    # Until the gateway's notice arrives the cashier says the payment is being confirmed, then 支付成功.
    expect(citizen.get_by_role("status").filter(has_text=re.compile("已提交支付|支付成功"))).to_be_visible()
    reload_until(citizen, f"{portal_url}/cases/{id_case}/", lambda p: p.locator("#case-state", has_text="待制证"))

    act(clerk, portal_url, id_case, "制证")
    act(clerk, portal_url, id_case, "送达办结")
    expect(state_of(clerk)).to_have_text("已办结")

    # 5. The message centre tells the whole story.
    reload_until(citizen, portal_url + "/messages/", lambda p: p.get_by_role("link", name="缴费成功"))
    messages = citizen.get_by_role("main")
    for subject in ("申请已受理", "需要补正材料", "补正材料已收到", "申请已准予", "请缴纳费用", "缴费成功"):
        expect(messages.get_by_role("link", name=subject).first).to_be_visible()
    reload_until(citizen, portal_url + "/messages/", lambda p: p.get_by_role("link", name="办件已办结"))
    citizen.goto(portal_url + "/cases/")
    # The bundle's cases are listed under its one entry, each row linking to its case by the item's name.
    bundle_cases = citizen.get_by_role("table", name="“开餐馆一件事”包含的办件")
    for number in (food, sign):
        expect(bundle_cases.get_by_role("row").filter(has_text=number).get_by_role("link")).to_be_visible()
    expect(citizen.get_by_role("link", name=id_case, exact=True)).to_be_visible()

    # The elderly mode (适老化) reaches the case pages too: larger type, one column, still accessible.
    citizen.get_by_role("button", name="长者模式（大字体）").click()
    expect(citizen.locator("body")).to_have_class(re.compile(r"(^|\s)elderly(\s|$)"))
    citizen.goto(f"{portal_url}/cases/{id_case}/")
    expect(state_of(citizen)).to_have_text("已办结")
    check_accessibility(citizen, "closed case page, elderly mode")


def test_every_staff_role_lands_on_a_home_listing_its_desks(new_context: Callable[..., Any], portal_url: str) -> None:
    """Issue 12 item 17: staff no longer land on 我的账户 with no way to their desks."""
    expected = {
        "counter-clerk": (["办件工作台", "窗口受理", "窗口服务评价（一次一评）"], ["12345热线工作台", "管理后台"]),
        "hotline-operator": (["12345热线工作台", "12345电话代评"], ["窗口受理", "管理后台"]),
        "market-admin": (["工作人员与角色管理", "本部门差评与整改"], ["窗口受理", "管理后台"]),
        "platform-admin": (["办件工作台", "工作人员与角色管理", "管理后台"], ["窗口受理"]),
    }
    for username, (shown, hidden) in expected.items():
        page = log_in(new_context, portal_url, username)
        expect(page).to_have_url(portal_url + "/accounts/desks/")
        desks = page.get_by_role("region", name="可以使用的工作台")
        for label in shown:
            expect(desks.get_by_role("link", name=label, exact=True)).to_be_visible()
        for label in hidden:
            expect(desks.get_by_role("link", name=label, exact=True)).to_have_count(0)
        page.context.close()

    # Each desk opens: the counter clerk reaches counter intake from the home.
    clerk = log_in(new_context, portal_url, "counter-clerk")
    clerk.get_by_role("link", name="窗口受理", exact=True).click()
    expect(clerk).to_have_url(portal_url + "/counter/")
    clerk.goto(portal_url + "/accounts/desks/")
    clerk.get_by_role("link", name="办件工作台", exact=True).click()
    expect(clerk).to_have_url(portal_url + "/workbench/")

    # Citizens have no staff home.
    citizen = log_in(new_context, portal_url, CITIZEN)
    expect(citizen).to_have_url(portal_url + "/accounts/")
    expect(citizen.get_by_role("link", name="进入我的工作台")).to_have_count(0)
    assert citizen.goto(portal_url + "/accounts/desks/").status == 404  # type: ignore[union-attr]


def test_a_grantor_picks_services_and_the_delegate_applies_for_them(
    new_context: Callable[..., Any], portal_url: str
) -> None:
    """Issue 12 item 13: delegation works online, from the grantor's list of services to 为谁办理."""
    item = "户籍证明开具"
    elder = log_in(new_context, portal_url, "elder-demo")
    elder.goto(portal_url + "/accounts/delegations/new/")
    elder.get_by_label("被授权人证件号码").fill(citizen_document_number())
    elder.get_by_label("与您的关系").select_option(label="子女")
    elder.get_by_label("有效期至").fill((dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat())
    elder.get_by_role("group", name=re.compile("授权办理的事项")).get_by_label(re.compile(f"^{item}")).check()
    elder.get_by_role("button", name="确认授权").click()
    expect(elder.get_by_role("status").filter(has_text="授权已生效")).to_be_visible()

    son = log_in(new_context, portal_url, CITIZEN)
    son.goto(f"{portal_url}/search/?q={item}&type=item")
    son.locator(".result-list").get_by_role("link", name=item, exact=True).first.click()
    son.get_by_role("button", name="在线办理").click()
    chooser = son.get_by_role("group", name="为谁办理")
    # The demo seed holds a delegation of hers already; any of hers will do.
    chooser.get_by_label(re.compile("^李秀英")).first.check()
    son.get_by_role("button", name="开始填写").click()
    expect(son).to_have_url(re.compile(r"/applications/\d+/$"))


def test_a_walk_in_who_never_registered_is_registered_and_served_at_the_counter(
    new_context: Callable[..., Any], portal_url: str
) -> None:
    """Issue 12 item 9: the elderly person with only an ID card is recorded at the counter and found next time."""
    from yiwang.core.identifiers import make_resident_id

    walk_in = make_resident_id("990102", "19450307", "451")
    clerk = log_in(new_context, portal_url, "counter-clerk")

    def check_identity() -> None:
        clerk.goto(portal_url + "/counter/")
        step = clerk.get_by_role("region", name="第一步：核验办事人身份")
        step.get_by_label("证件类型").first.select_option(label="居民身份证")
        step.get_by_label("证件号码").first.fill(walk_in)
        step.get_by_label("身份证阅读器读取").first.check()
        step.get_by_role("button", name="核验身份").click()

    check_identity()
    register = clerk.get_by_role("region", name="登记新办事人")
    expect(register).to_be_visible()
    expect(register.get_by_label("证件号码")).to_have_value(walk_in)
    check_accessibility(clerk, "counter registration")
    register.get_by_label("姓名").fill("钱老伯")
    register.get_by_label("手机号码").fill("13912345678")
    register.get_by_role("button", name="登记并办理").click()
    expect(clerk.get_by_role("status").filter(has_text="正在为 钱* 办理")).to_be_visible()

    clerk.get_by_label("事项名称或编码").fill(ID_CARD_REISSUE)
    clerk.get_by_role("button", name="查找").click()
    clerk.get_by_role("button", name=named("为其办理", f"：{ID_CARD_REISSUE}")).first.click()
    expect(clerk.get_by_role("note").filter(has_text="窗口代办")).to_be_visible()
    answer_every_question(clerk, {})
    clerk.get_by_label("申请人姓名").fill("钱老伯")
    clerk.get_by_label("联系电话").fill("13912345678")
    clerk.get_by_label("联系地址").fill("示范市幸福街道幸福路9号")
    clerk.get_by_role("button", name="保存草稿").click()
    upload_every_material(clerk)
    clerk.get_by_role("button", name="提交申请").click()
    case_number_of(clerk, ID_CARD_REISSUE)

    # The next visit: the typed document number finds the person registered last time.
    clerk.goto(portal_url + "/counter/")
    clerk.get_by_role("button", name="结束本次接待").click()
    check_identity()
    expect(clerk.get_by_role("status").filter(has_text="正在为 钱* 办理")).to_be_visible()
    expect(clerk.get_by_role("region", name="登记新办事人")).to_have_count(0)
