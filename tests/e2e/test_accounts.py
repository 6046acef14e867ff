"""Unified identity in a real browser: registration, SMS login, staff authenticator, lockout, accessibility.

The server is seeded with the demo accounts of ``yiwang.accounts.demo``; new
citizens register with fresh mobile numbers and valid resident ID numbers of
the demo district 990102, reading their SMS codes from the demo outbox page.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .conftest import SMS_RESEND_SECONDS
from .pages import ELDERLY_BODY, ELDERLY_OFF_BUTTON, ELDERLY_ON_BUTTON

pytestmark = pytest.mark.e2e

DEMO_PASSWORD = "Yiwang-demo-2026"  # the documented demo password
NEW_PASSWORD = "Shifan-2026-mima!"
DEMO_DISTRICT = "990102"
# A staff account that no other browser test logs in with: it binds its authenticator here.
STAFF_USERNAME = "police-reviewer"
CODE_RESEND_SECONDS = SMS_RESEND_SECONDS + 0.5  # one SMS code per number per interval, whatever it is for
BLOCKING_IMPACTS = {"serious", "critical"}

_rng = random.Random()  # test data, not secrets
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id() -> str:
    """A valid 公民身份号码 in the demo district: GB 11643 check digit (ISO 7064 MOD 11-2)."""
    first17 = f"{DEMO_DISTRICT}19{_rng.randint(50, 99)}{_rng.randint(1, 12):02d}{_rng.randint(1, 28):02d}"
    first17 += f"{_rng.randint(0, 999):03d}"
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def fresh_mobile() -> str:
    return f"139{_rng.randint(0, 10**8 - 1):08d}"


def masked(number: str) -> str:
    return f"{number[:3]}{'*' * (len(number) - 7)}{number[-4:]}"


@dataclass
class Citizen:
    name: str
    mobile: str
    document_number: str
    password: str
    code_sent_at: float  # time.monotonic() of the last SMS code sent to the mobile


# The citizen registered by the first test, reused by the later ones (each registers one if run alone).
_registered: list[Citizen] = []


def read_sms_code(context: BrowserContext, portal_url: str, mobile: str) -> str:
    """Read the newest code sent to ``mobile`` from the demo outbox, as a citizen reads their phone."""
    outbox = context.new_page()
    try:
        outbox.goto(portal_url + "/accounts/sms-outbox/")
        expect(outbox.get_by_text("演示环境", exact=True)).to_be_visible()
        message = outbox.locator(".sms").filter(has_text=masked(mobile)).first
        expect(message).to_be_visible()
        match = re.search(r"验证码为(\d{6})", message.inner_text())
        assert match, message.inner_text()
        return match.group(1)
    finally:
        outbox.close()


def register_citizen(page: Page, portal_url: str) -> Citizen:
    """Register a new citizen through the two steps of the page; ends logged in on 我的账户."""
    citizen = Citizen(
        name="王小明", mobile=fresh_mobile(), document_number=resident_id(), password=NEW_PASSWORD, code_sent_at=0
    )
    page.goto(portal_url + "/accounts/register/")
    expect(page.get_by_role("heading", level=1)).to_have_text("注册个人账户")
    page.get_by_label("手机号码").fill(citizen.mobile)
    page.get_by_role("button", name="发送验证码").click()
    citizen.code_sent_at = time.monotonic()
    expect(page.get_by_role("status").filter(has_text="验证码已发送")).to_be_visible()

    code = read_sms_code(page.context, portal_url, citizen.mobile)
    page.get_by_label("短信验证码").fill(code)
    page.get_by_label("姓名").fill(citizen.name)
    page.get_by_label("证件类型").select_option(label="居民身份证")
    page.get_by_label("证件号码").fill(citizen.document_number)
    page.get_by_label("设置密码").fill(citizen.password)
    page.get_by_label("再次输入密码").fill(citizen.password)
    page.get_by_role("button", name="注册", exact=True).click()

    expect(page).to_have_url(portal_url + "/accounts/")
    expect(page.get_by_role("heading", level=1)).to_have_text("我的账户")
    return citizen


@pytest.fixture
def citizen(new_context: Any, portal_url: str) -> Citizen:
    """A registered citizen (the one the registration test made, when it ran)."""
    if not _registered:
        page = new_context().new_page()
        _registered.append(register_citizen(page, portal_url))
        page.context.close()
    return _registered[0]


def log_in_with_password(page: Page, portal_url: str, identifier: str, password: str) -> None:
    page.goto(portal_url + "/accounts/login/")
    page.get_by_label("手机号、身份证号或工号").fill(identifier)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()


def log_out(page: Page) -> None:
    page.get_by_role("banner").get_by_role("button", name="退出", exact=True).click()
    expect(page.get_by_role("banner").get_by_role("link", name="登录", exact=True)).to_be_visible()


def switch_elderly_mode_on(page: Page, portal_url: str) -> None:
    page.goto(portal_url + "/")
    page.get_by_role("button", name=ELDERLY_ON_BUTTON).click()
    expect(page.get_by_role("button", name=ELDERLY_OFF_BUTTON)).to_be_visible()


# --- (a) registration, masked numbers and the data tracker -----------------------------------


def test_citizen_registers_sees_masked_numbers_and_the_record_of_revealing_them(page: Page, portal_url: str) -> None:
    citizen = register_citizen(page, portal_url)
    _registered.append(citizen)

    expect(page.get_by_role("status").filter(has_text="注册成功")).to_be_visible()
    identity = page.get_by_role("region", name="实名信息")
    expect(identity).to_contain_text(citizen.name)
    expect(identity).to_contain_text("二级：实名手机号验证")
    expect(page.locator("#document-number")).to_have_text(masked(citizen.document_number))
    expect(page.locator("#mobile-number")).to_have_text(masked(citizen.mobile))
    content = page.content()
    assert citizen.document_number not in content
    assert citizen.mobile not in content
    # The header now offers the account and logging out instead of logging in.
    banner = page.get_by_role("banner")
    expect(banner.get_by_role("link", name="我的账户")).to_be_visible()
    expect(banner.get_by_role("link", name="登录", exact=True)).to_have_count(0)

    page.get_by_role("button", name="查看完整证件号码").click()
    expect(page.locator("#document-number")).to_have_text(citizen.document_number)
    expect(page.get_by_text("本次查看已记录")).to_be_visible()
    expect(page.locator("#mobile-number")).to_have_text(masked(citizen.mobile))  # only what was asked for

    page.get_by_role("link", name="查看记录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("谁查看了我的信息")
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("本人")
    expect(rows.first).to_contain_text("证件号码")
    expect(rows.first).to_contain_text("本人查看")


# --- (c) staff must bind an authenticator, then use it at every login ---------------------------


def _wrong_code(totp: pyotp.TOTP) -> str:
    now = time.time()
    valid = {totp.at(now - 30), totp.at(now), totp.at(now + 30), totp.at(now + 60)}
    candidate = 123456
    while f"{candidate:06d}" in valid:
        candidate += 1
    return f"{candidate:06d}"


def test_staff_login_requires_binding_an_authenticator_then_a_fresh_code(page: Page, portal_url: str) -> None:
    log_in_with_password(page, portal_url, STAFF_USERNAME, DEMO_PASSWORD)

    # First login: enrolment is mandatory.
    expect(page).to_have_url(portal_url + "/accounts/totp/setup/")
    expect(page.get_by_role("heading", level=1)).to_have_text("绑定动态口令")
    qr = page.get_by_role("img", name=re.compile("二维码"))
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    totp = pyotp.TOTP(secret)

    page.get_by_label("动态口令", exact=True).fill(totp.now())
    enrolled_step = int(time.time() // 30)
    page.get_by_role("button", name="完成绑定").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("请保存恢复码")
    expect(page.get_by_text("恢复码只显示这一次")).to_be_visible()
    codes = page.locator(".recovery-codes li")
    expect(codes).to_have_count(10)
    page.get_by_role("link", name="我已保存，继续").click()
    # Staff land on their home, which lists their desks (issue 12 item 17).
    expect(page).to_have_url(portal_url + "/accounts/desks/")
    expect(page.get_by_role("heading", level=1)).to_have_text("我的工作台")
    expect(page.get_by_role("link", name="办件工作台")).to_be_visible()
    page.get_by_role("navigation", name="当前位置").get_by_role("link", name="我的账户").click()
    expect(page.get_by_role("region", name="我的工作角色")).to_contain_text("审查人员")

    log_out(page)

    # Second login: password, then a code from the authenticator.
    log_in_with_password(page, portal_url, STAFF_USERNAME, DEMO_PASSWORD)
    expect(page).to_have_url(portal_url + "/accounts/login/verify/")
    code_box = page.get_by_label("动态口令或恢复码")
    code_box.fill(_wrong_code(totp))
    page.get_by_role("button", name="验证并登录").click()
    expect(page.get_by_role("alert")).to_contain_text("动态口令不正确")
    expect(code_box).to_have_attribute("aria-invalid", "true")

    # A code is good once: the enrolment's time step cannot be replayed, so use the next one.
    now = time.time()
    fresh = totp.at(now + 30) if int(now // 30) <= enrolled_step else totp.at(now)
    code_box.fill(fresh)
    page.get_by_role("button", name="验证并登录").click()
    expect(page).to_have_url(portal_url + "/accounts/desks/")
    expect(page.get_by_role("heading", level=1)).to_have_text("我的工作台")
    expect(page.get_by_role("banner").get_by_role("link", name="我的账户")).to_be_visible()


# --- (e) lockout --------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_from_that_address(page: Page, portal_url: str) -> None:
    victim = register_citizen(page, portal_url)
    log_out(page)

    for _ in range(5):
        log_in_with_password(page, portal_url, victim.mobile, "Wrong-password-1")
        expect(page.get_by_role("alert")).to_contain_text("账号或密码不正确")
    # Even the right password is refused now (from this address), saying how long, and as it would be for
    # an account that does not exist.
    log_in_with_password(page, portal_url, victim.mobile, victim.password)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("已暂时锁定")
    expect(alert).not_to_contain_text("账户")
    expect(alert).to_contain_text(re.compile(r"请\d+(分钟|秒)后再试"))
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_the_send_button_counts_down_until_another_code_may_be_sent(page: Page, portal_url: str) -> None:
    page.goto(portal_url + "/accounts/login/sms/")
    page.get_by_label("手机号码").fill(fresh_mobile())
    page.get_by_role("button", name="发送验证码").click()
    expect(page.get_by_role("status").filter(has_text="验证码已发送")).to_be_visible()
    expect(page.get_by_role("button", name="发送验证码")).to_be_disabled()
    expect(page.get_by_text(re.compile(r"^\d+ 秒后可重新发送$"))).to_be_visible()


# --- (d) accessibility ----------------------------------------------------------------------------


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = [" ".join(str(t) for t in node["target"]) for node in violation["nodes"][:5]]
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']} -> {targets}")
    return "\n".join(lines)


def _open_login_with_errors(page: Page, portal_url: str, citizen: Citizen) -> None:
    page.goto(portal_url + "/accounts/login/")
    page.get_by_role("button", name="登录", exact=True).click()  # empty: the error summary and field errors
    expect(page.get_by_role("alert")).to_be_visible()


def _open_register_step_two(page: Page, portal_url: str, citizen: Citizen) -> None:
    page.goto(portal_url + "/accounts/register/")
    page.get_by_label("手机号码").fill(fresh_mobile())
    page.get_by_role("button", name="发送验证码").click()
    page.get_by_role("button", name="注册", exact=True).click()  # empty: the error summary and field errors
    expect(page.get_by_role("alert")).to_contain_text("请修改下面标出的内容")


def _open_sms_login(page: Page, portal_url: str, citizen: Citizen) -> None:
    page.goto(portal_url + "/accounts/login/sms/")
    page.get_by_label("手机号码").fill(fresh_mobile())
    page.get_by_role("button", name="发送验证码").click()
    expect(page.get_by_label("短信验证码")).to_be_visible()


def _open_account(page: Page, portal_url: str, citizen: Citizen) -> None:
    log_in_with_password(page, portal_url, citizen.mobile, citizen.password)
    expect(page.get_by_role("heading", level=1)).to_have_text("我的账户")


def _open_data_access(page: Page, portal_url: str, citizen: Citizen) -> None:
    _open_account(page, portal_url, citizen)
    page.get_by_role("button", name="查看完整手机号码").click()  # at least one row in the table
    expect(page.locator("#mobile-number")).to_have_text(citizen.mobile)
    page.goto(portal_url + "/accounts/data-access/")
    expect(page.get_by_role("table")).to_be_visible()


AXE_PAGES = {
    "login": _open_login_with_errors,
    "register": _open_register_step_two,
    "sms_login": _open_sms_login,
    "account": _open_account,
    "data_access": _open_data_access,
}


@pytest.mark.parametrize("elderly", [False, True], ids=["normal", "elderly"])
@pytest.mark.parametrize("name", list(AXE_PAGES))
def test_identity_pages_have_no_serious_accessibility_violations(
    page: Page, portal_url: str, citizen: Citizen, name: str, elderly: bool
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    if elderly:
        switch_elderly_mode_on(page, portal_url)
    AXE_PAGES[name](page, portal_url, citizen)
    if elderly:
        expect(page.locator("body")).to_have_class(ELDERLY_BODY)
    else:
        expect(page.locator("body")).not_to_have_class(ELDERLY_BODY)

    results = Axe().run(page)
    violations = [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]
    assert not violations, f"{name} ({'elderly' if elderly else 'normal'}):\n{_describe(violations)}"


# --- (b) SMS-code login (last: the number may get one code per interval, and registration used it) -


def test_citizen_logs_in_with_an_sms_code(page: Page, portal_url: str, citizen: Citizen) -> None:
    wait = CODE_RESEND_SECONDS - (time.monotonic() - citizen.code_sent_at)
    if wait > 0:
        time.sleep(wait)
    page.goto(portal_url + "/accounts/login/")
    page.get_by_role("link", name="使用短信验证码登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("短信验证码登录")

    page.get_by_label("手机号码").fill(citizen.mobile)
    page.get_by_role("button", name="发送验证码").click()
    citizen.code_sent_at = time.monotonic()
    expect(page.get_by_role("status").filter(has_text="验证码已发送")).to_be_visible()

    code = read_sms_code(page.context, portal_url, citizen.mobile)
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="登录", exact=True).click()

    expect(page).to_have_url(portal_url + "/accounts/")
    expect(page.get_by_role("heading", level=1)).to_have_text("我的账户")
    expect(page.locator("#mobile-number")).to_have_text(masked(citizen.mobile))
