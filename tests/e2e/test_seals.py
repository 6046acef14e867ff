"""Browser walk of licence verification (电子证照核验) and the seals desk, on a seeded portal.

A licence QR payload issued by the market department's seal is pasted into the public verification page and
opened as a verification URL; an edited one is refused; a department administrator rotates the seal's key and
the earlier licence still verifies. Every page passes the accessibility check.
"""

from __future__ import annotations

import os
import subprocess
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    SMS_RESEND_SECONDS,
    YIWANG,
    Snapshot,
    _free_port,
    _wait_until_up,
    seeded_server_state,
)
from tests.e2e.test_cases import check_accessibility, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ISSUE = """
import datetime as dt
from yiwang.core import sm2
from yiwang.licences.services import qr, seals
if seals.active_seal("market") is None:
    seals.create_seal("market", bottom_text="电子证照专用章")
claims = qr.QrClaims(licence_id="44030020261207009999", licence_type="食品经营许可证", holder_name="王*",
                     holder_id_digest=qr.holder_digest("110105194912310021", "44030020261207009999"),
                     issued_on=dt.date(2026, 12, 7), expires_on=dt.date(2031, 12, 6), document_digest=sm2.sm3(b"x"),
                     fields=(("经营者名称", "示范小吃店"),))
print(qr.encode_qr_payload(claims, department_code="market"))
"""


@pytest.fixture(scope="module")
def seals_portal(seeded_snapshot: Snapshot) -> Iterator[tuple[str, str]]:
    """A seeded portal whose market department has a seal, and a licence payload it issued."""
    with seeded_server_state(seeded_snapshot, "yiwang-e2e-seals-") as (var_dir, database_env):
        env = {**os.environ, "YIWANG_VAR_DIR": str(var_dir), "YIWANG_SMS_RESEND_SECONDS": str(SMS_RESEND_SECONDS),
               **database_env}  # fmt: skip
        result = subprocess.run(
            [str(YIWANG), "shell", "-c", ISSUE], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert result.returncode == 0, result.stderr
        payload = result.stdout.strip().splitlines()[-1]
        # Waits for the verification page rather than the home page, whose first answer warms the search
        # model up (a minute on a busy machine) and which nothing here needs.
        port = _free_port()
        log_path = var_dir / "serve.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [str(YIWANG), "serve", "--port", str(port), "--workers", "1"], env=env, stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_up(base + "/licences/verify/", server, log_path)
            yield base, payload
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)


def _verify_by_hand(page: Page, portal_url: str, payload: str) -> None:
    page.goto(portal_url + "/licences/verify/")
    page.get_by_label("二维码内容（以 YW1: 开头，或核验网址）").fill(payload)
    page.get_by_role("button", name="核验", exact=True).click()


def test_a_verifier_checks_a_licence_and_an_edited_one_is_refused(page: Page, seals_portal: tuple[str, str]) -> None:
    portal_url, payload = seals_portal
    _verify_by_hand(page, portal_url, payload)
    result = page.get_by_role("region", name="核验结果")
    expect(result.get_by_role("status")).to_contain_text("有效")
    expect(result).to_contain_text("44030020261207009999")
    expect(result).to_contain_text("示范小吃店")
    check_accessibility(page, "verification result")

    # The QR code may hold a verification URL: opening it verifies at once.
    page.goto(portal_url + "/licences/verify/?p=" + urllib.parse.quote(payload))
    expect(page.get_by_role("region", name="核验结果").get_by_role("status")).to_contain_text("核验通过")

    edited = payload[:40] + ("A" if payload[40] != "A" else "B") + payload[41:]
    _verify_by_hand(page, portal_url, edited)
    expect(page.get_by_role("region", name="核验结果").get_by_role("status")).to_contain_text("未通过")
    check_accessibility(page, "refused verification")


def test_the_department_admin_rotates_the_seal_and_old_licences_still_verify(
    new_context: Callable[..., Any], page: Page, seals_portal: tuple[str, str]
) -> None:
    portal_url, payload = seals_portal
    admin = log_in(new_context, portal_url, "market-admin")
    admin.get_by_role("link", name="电子印章", exact=True).click()
    expect(admin).to_have_url(portal_url + "/licences/seals/")
    expect(admin.get_by_role("img", name="的印章图像").first).to_be_visible()
    check_accessibility(admin, "seals desk")
    admin.get_by_role("button", name="更换签名密钥").first.click()
    expect(admin.get_by_role("status").first).to_contain_text("已为")
    _verify_by_hand(page, portal_url, payload)
    expect(page.get_by_role("region", name="核验结果").get_by_role("status")).to_contain_text("有效")
