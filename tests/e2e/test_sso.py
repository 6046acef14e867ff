"""Single sign-on in a real browser: the consent page a citizen sees when a department's system
signs them in through Yiwang -- accessible in normal and elderly mode, usable without JavaScript.

The server is a production-shaped ``yiwang serve`` of its own, with one
department system registered by ``yiwang oidc-client`` as a platform
administrator would; the system's callback is intercepted in the browser.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from playwright.sync_api import Page, Route, expect

from .conftest import YIWANG, Snapshot, _serve, seeded_server_state
from .pages import ELDERLY_BODY, ELDERLY_ON_BUTTON

pytestmark = pytest.mark.e2e

APP_NAME = "示范市市场监管局企业登记系统"
CALLBACK = "http://127.0.0.1:9/oidc/callback"
DEMO_CITIZEN = "citizen-demo"
DEMO_PASSWORD = "Yiwang-demo-2026"  # the documented demo password (README)
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="module")
def sso_portal(seeded_snapshot: Snapshot) -> Iterator[tuple[str, str]]:
    """(base URL, client_id) of a seeded server with one registered department system."""
    with seeded_server_state(seeded_snapshot, "yiwang-e2e-sso-") as (var_dir, database_env):
        env = {**os.environ, "YIWANG_VAR_DIR": str(var_dir), **database_env}
        for base_url in _serve(var_dir, database_env):
            result = subprocess.run(
                [
                    str(YIWANG),
                    "oidc-client",
                    APP_NAME,
                    "--redirect-uri",
                    CALLBACK,
                    "--scope",
                    "profile",
                    "--scope",
                    "phone",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            client_id = next(
                line.split(": ", 1)[1] for line in result.stdout.splitlines() if line.startswith("client_id: ")
            )
            yield base_url, client_id


def _authorize_url(base_url: str, client_id: str, scope: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": scope,
        "state": generate_token(16),
        "code_challenge": create_s256_code_challenge(generate_token(48)),
        "code_challenge_method": "S256",
    }
    return f"{base_url}/o/authorize/?{urlencode(query)}"


def _log_in_for_consent(page: Page, base_url: str, client_id: str, scope: str) -> None:
    page.goto(_authorize_url(base_url, client_id, scope))
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/o/authorize/"))
    page.get_by_label("手机号、身份证号或工号").fill(DEMO_CITIZEN)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("heading", name="授权登录")).to_be_visible()


def _violations(page: Page) -> list[dict[str, Any]]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]


@pytest.mark.parametrize("elderly", [False, True], ids=["normal", "elderly"])
def test_consent_page_is_accessible_and_approving_returns_a_code(
    new_context: Any, sso_portal: tuple[str, str], elderly: bool
) -> None:
    base_url, client_id = sso_portal
    page: Page = new_context().new_page()
    if elderly:
        page.goto(base_url + "/")
        page.get_by_role("button", name=ELDERLY_ON_BUTTON).click()
    _log_in_for_consent(page, base_url, client_id, "openid profile phone")
    if elderly:
        expect(page.locator("body")).to_have_class(ELDERLY_BODY)
    expect(page.get_by_text(APP_NAME)).to_be_visible()
    expect(page.get_by_text("您的完整手机号码，以及它是否已经验证")).to_be_visible()
    assert not _violations(page), _violations(page)

    def system_callback(route: Route) -> None:
        route.fulfill(status=200, content_type="text/plain", body="ok")

    page.route(CALLBACK + "*", system_callback)
    # Wait for the browser's request to the client rather than for the routed page: under load
    # Chromium sometimes shows its own error page for the redirect before the route answers.
    with page.expect_request(lambda request: request.url.startswith(CALLBACK)) as callback:
        page.get_by_role("button", name="同意并登录").click()
    assert "code" in parse_qs(urlsplit(callback.value.url).query)


def test_refusing_works_without_javascript_and_returns_access_denied(
    new_context: Any, sso_portal: tuple[str, str]
) -> None:
    base_url, client_id = sso_portal
    page: Page = new_context(java_script_enabled=False).new_page()
    _log_in_for_consent(page, base_url, client_id, "openid")

    def system_callback(route: Route) -> None:
        route.fulfill(status=200, content_type="text/plain", body="denied")

    page.route(CALLBACK + "*", system_callback)
    with page.expect_request(lambda request: request.url.startswith(CALLBACK)) as callback:
        page.get_by_role("button", name="不同意").click()
    query = parse_qs(urlsplit(callback.value.url).query)
    assert query["error"] == ["access_denied"] and "code" not in query


def test_invalid_request_shows_an_accessible_error_page(new_context: Any, sso_portal: tuple[str, str]) -> None:
    base_url, _client_id = sso_portal
    page: Page = new_context().new_page()
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("手机号、身份证号或工号").fill(DEMO_CITIZEN)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    response = page.goto(_authorize_url(base_url, "not-a-registered-system", "openid"))
    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", name="无法完成登录")).to_be_visible()
    assert not _violations(page)


def test_errors_found_after_login_still_return_to_the_system(new_context: Any, sso_portal: tuple[str, str]) -> None:
    base_url, client_id = sso_portal
    page: Page = new_context().new_page()
    callbacks: list[str] = []

    def system_callback(route: Route) -> None:
        callbacks.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="back")

    page.route(CALLBACK + "*", system_callback)
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "scope": "openid"}
    page.goto(f"{base_url}/o/authorize/?{urlencode(query)}")  # no PKCE
    page.get_by_label("手机号、身份证号或工号").fill(DEMO_CITIZEN)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_text("back")).to_be_visible()
    assert parse_qs(urlsplit(callbacks[0]).query)["error"] == ["invalid_request"]
